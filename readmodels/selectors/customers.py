"""Customer queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from readmodels.models import CustomerLifetimeValue, CustomerOrderStats


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerStatsDTO:
    """A customer's order counts and lifetime value per currency."""

    customer_id: str
    orders_count: int
    open_orders_count: int
    cancelled_orders_count: int
    lifetime_value: dict[str, Decimal] = field(default_factory=dict)
    last_order_at: datetime | None = None


def customer_stats(customer_id: str) -> CustomerStatsDTO | None:
    """The customer's stats, or None if they have no projected order."""
    row = CustomerOrderStats.objects.filter(customer_id=customer_id).values().first()
    if row is None:
        return None
    values = CustomerLifetimeValue.objects.filter(customer_id=customer_id).order_by("currency")
    return CustomerStatsDTO(
        customer_id=row["customer_id"],
        orders_count=row["orders_count"],
        open_orders_count=row["open_orders_count"],
        cancelled_orders_count=row["cancelled_orders_count"],
        lifetime_value={value.currency: value.amount for value in values},
        last_order_at=row["last_order_at"],
    )
