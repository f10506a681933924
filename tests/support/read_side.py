"""The read side as tests compare it: every read-model row in a stable order, the status totals
counted two ways, and the mark that runs a test once on each database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from projector.loop import read_database
from readmodels.models import (
    CatalogName,
    CustomerLifetimeValue,
    CustomerOrderStats,
    DailySales,
    OrderDetail,
    OrderStatusCount,
    OrderSummary,
    SearchPosting,
    SearchWord,
)


def read_models() -> dict[str, list[dict[str, Any]]]:
    """Every read-model row (minus surrogate ids), sorted, for comparing two states."""
    using = read_database()
    tables: dict[str, Any] = {
        "summary": OrderSummary.objects.using(using).values(),
        "detail": OrderDetail.objects.using(using).values(),
        "catalog": CatalogName.objects.using(using).values(),
        # The search's words (PostgreSQL only: empty on SQLite on both sides).
        "words": SearchWord.objects.using(using).values(),
        "postings": SearchPosting.objects.using(using).values("order_id", "word", "created_at"),
        # A status that dropped back to none keeps a zero row live, and a rebuild may not write it.
        "status_counts": OrderStatusCount.objects.using(using).exclude(orders=0).values(),
        "stats": CustomerOrderStats.objects.using(using).values(),
        "lifetime": CustomerLifetimeValue.objects.using(using).values("customer_id", "currency", "amount"),
        "daily": DailySales.objects.using(using).values(
            "day", "currency", "orders_placed", "orders_paid", "revenue", "cancellations", "refunded"
        ),
    }
    return {
        name: sorted(rows, key=lambda row: sorted((k, str(v)) for k, v in row.items())) for name, rows in tables.items()
    }


def counted_statuses() -> dict[str, int]:
    """OrderStatusCount's non-zero totals."""
    return dict(OrderStatusCount.objects.using(read_database()).exclude(orders=0).values_list("status", "orders"))


def summaries_by_status() -> dict[str, int]:
    """The same totals, counted from OrderSummary's rows."""
    rows = OrderSummary.objects.using(read_database()).order_by().values("status").annotate(n=Count("order_id"))
    return {row["status"]: row["n"] for row in rows}


# A test of a guarantee both databases keep, run once in each one's run (`vendor` is the one
# the run is on; `postgres` fails a PostgreSQL case run elsewhere).
ON_BOTH_DATABASES = pytest.mark.parametrize(
    "vendor",
    [pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("sqlite", marks=pytest.mark.embedded)],
)
