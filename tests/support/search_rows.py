"""List rows built without their orders (OrderSummaryRowFactory), with the words the `orders`
projection writes beside them (readmodels/projections/search_words.py), so a search finds
them as it finds projected orders."""

from __future__ import annotations

from typing import Any

from projector.loop import read_database
from readmodels.models import OrderSummary
from readmodels.projections.search_words import write_words
from tests.factories import OrderSummaryRowFactory


def summary_rows(count: int, **fields: Any) -> list[OrderSummary]:
    """`count` list rows, oldest first, in one INSERT, and their words."""
    return with_words(OrderSummary.objects.bulk_create(OrderSummaryRowFactory.build_batch(count, **fields)))


def with_words(rows: list[OrderSummary]) -> list[OrderSummary]:
    """`rows` (saved already), their words written as for new orders."""
    fields = ("order_id", "created_at", "search_text")
    write_words(read_database(), [{field: getattr(row, field) for field in fields} for row in rows], {})
    return rows
