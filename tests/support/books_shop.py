"""A month of a small shop, for the books-balance simulation: its tally (the simulation's clock
is the demo's, demo/clock.py).

The tally: what the simulation itself did (received, restocked, adjusted, shipped per SKU;
paid, owed back and refunded per day; which orders hold stock, what each owes back), kept
without reading the product at all, so the read models are checked against an independent
account rather than against themselves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID


@dataclass
class ShopOrder:
    """One order as the simulation placed and moved it."""

    order_id: UUID
    customer_id: str
    items: dict[str, tuple[int, Decimal]]  # SKU -> (units, unit price), tracked or not
    lines: dict[str, int]  # tracked SKU -> units
    total: Decimal
    status: str = "PENDING"
    paid: Decimal = Decimal("0")
    refund_due: Decimal = Decimal("0")
    refunded: Decimal = Decimal("0")
    returned: dict[str, int] = field(default_factory=dict)  # SKU -> units sent back

    def returnable(self, sku: str) -> int:
        """Units of `sku` delivered and not sent back yet."""
        return self.items[sku][0] - self.returned.get(sku, 0)

    @property
    def holds_stock(self) -> bool:
        """Confirmed with its stock reserved, and neither shipped nor cancelled."""
        return self.status in ("CONFIRMED", "PAID")


@dataclass
class Books:
    """The simulation's own account of the month."""

    received: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    restocked: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    adjusted: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    shipped: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    orders: dict[UUID, ShopOrder] = field(default_factory=dict)
    # (day, column) -> amount: orders_paid, revenue, refunded (owed by cancellations), refunds_paid
    days: defaultdict[tuple[date, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def on_hand(self, sku: str) -> int:
        """received + restocked + adjusted - shipped."""
        return self.received[sku] + self.restocked[sku] + self.adjusted[sku] - self.shipped[sku]

    def reserved(self, sku: str) -> int:
        """What the confirmed, unshipped orders hold."""
        return sum(order.lines.get(sku, 0) for order in self.orders.values() if order.holds_stock)

    def available(self, sku: str) -> int:
        """What a new reservation may take."""
        return self.on_hand(sku) - self.reserved(sku)

    def in_status(self, *statuses: str) -> list[ShopOrder]:
        """The orders in one of `statuses`, in the order they were placed."""
        return [order for order in self.orders.values() if order.status in statuses]
