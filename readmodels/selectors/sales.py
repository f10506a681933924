"""Daily sales queries: per day and currency, what came in (revenue) beside what went back
(refunds paid), read from DailySales only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from readmodels.models import DailySales


@dataclass(frozen=True, kw_only=True, slots=True)
class DailySalesDTO:
    """One day's figures in one currency."""

    day: date
    currency: str
    orders_placed: int
    orders_paid: int
    revenue: Decimal
    refunds_paid: Decimal
    cancellations: int
    # What cancellations of paid orders owed back that day (paid back or not).
    refunded: Decimal


FIELDS = ("day", "currency", "orders_placed", "orders_paid", "revenue", "refunds_paid", "cancellations", "refunded")


def daily_sales(since: date, until: date, currency: str | None = None) -> list[DailySalesDTO]:
    """The days from `since` to `until` (both included) that had any sales, newest first."""
    rows = DailySales.objects.filter(day__gte=since, day__lte=until)
    if currency:
        rows = rows.filter(currency=currency)
    return [DailySalesDTO(**row) for row in rows.order_by("-day", "currency").values(*FIELDS)]
