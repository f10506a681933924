"""Figures for the admin dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from readmodels.models import DailySales, OrderSummary


@dataclass(frozen=True, kw_only=True, slots=True)
class DayRevenue:
    """Revenue of one day in one currency."""

    day: date
    revenue: Decimal
    orders_paid: int


def orders_by_status() -> dict[str, int]:
    """How many orders are in each status."""
    rows = OrderSummary.objects.values_list("status").annotate(count=Count("order_id")).order_by("status")
    return dict(rows)


def revenue_per_day(days: int = 30) -> dict[str, list[DayRevenue]]:
    """Per currency, each of the last `days` days' revenue (zero days included)."""
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    rows = (
        DailySales.objects.filter(day__gte=first)
        .values("currency", "day")
        .annotate(revenue=Sum("revenue"), paid=Sum("orders_paid"))
    )
    by_currency: dict[str, dict[date, tuple[Decimal, int]]] = {}
    for row in rows:
        by_currency.setdefault(row["currency"], {})[row["day"]] = (row["revenue"], row["paid"])
    return {
        currency: [
            DayRevenue(
                day=day,
                revenue=values.get(day, (Decimal("0"), 0))[0],
                orders_paid=values.get(day, (Decimal("0"), 0))[1],
            )
            for day in (first + timedelta(days=offset) for offset in range(days))
        ]
        for currency, values in sorted(by_currency.items())
    }
