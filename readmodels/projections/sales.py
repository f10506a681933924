"""The `sales` projection: CustomerOrderStats, CustomerLifetimeValue and DailySales.

Totals are kept as increments (upserts adding deltas), so partitions of the log can be
projected in parallel; the projection's own ledger remembers per order what later events
need (customer, currency, status, amount paid).

No order the write side accepts can make a shared row fail: the totals are numeric(38,3)
and bigint (models.MONEY_SUM_DIGITS), and the running sums are added up by PostgreSQL
(on SQLite, whose decimal columns are floats, in Python's Decimal: projections/base.py).
Python adds up only one batch's deltas: at most a batch of amounts below 10^12 each, exact
within Decimal's default 28 digits for any batch under 10^14 events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore, event_store
from orders.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderPaid,
    OrderShipped,
    RefundPaid,
)
from projector.bulk import upsert_rows
from projector.projection import Projection, Sealer
from readmodels.models import CustomerLifetimeValue, CustomerOrderStats, DailySales, SalesLedgerEntry
from readmodels.projections.base import advance_stream, upsert_increments

CLOSED = frozenset({"DELIVERED", "CANCELLED"})
ZERO = Decimal("0.00")


@dataclass
class LedgerEntry:
    """What the sales projection remembers of one order."""

    customer_id: str
    currency: str
    status: str
    paid_amount: Decimal
    version: int


@dataclass
class Deltas:
    """Changes a batch makes to the totals, applied as increments at the end."""

    # customer -> [orders, open orders, cancelled orders]
    customers: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    last_order_at: dict[str, datetime] = field(default_factory=dict)
    lifetime: defaultdict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    # (day, currency) -> [placed, paid, revenue, cancellations, refunded, refunds paid]
    daily: defaultdict[tuple[date, str], list[Decimal]] = field(default_factory=lambda: defaultdict(lambda: [ZERO] * 6))

    def fold(self, entry: LedgerEntry | None, recorded: RecordedEvent) -> LedgerEntry:
        """The order's ledger entry after `recorded`, noting what it adds to the totals."""
        event = recorded.event
        day = recorded.recorded_at.date()
        if entry is None:
            if not isinstance(event, OrderCreated):
                raise LookupError(f"{recorded.event_type} of {recorded.stream_id} before OrderCreated")
            entry = LedgerEntry(event.customer_id, event.currency, "PENDING", ZERO, recorded.version)
            counts = self.customers[entry.customer_id]
            counts[0] += 1
            counts[1] += 1
            previous = self.last_order_at.get(entry.customer_id, recorded.recorded_at)
            self.last_order_at[entry.customer_id] = max(previous, recorded.recorded_at)
            self.daily[(day, entry.currency)][0] += 1
            return entry
        was_open = entry.status not in CLOSED
        match event:
            case OrderConfirmed():
                entry.status = "CONFIRMED"
            case OrderPaid(amount=amount):
                entry.status, entry.paid_amount = "PAID", amount
                self.lifetime[(entry.customer_id, entry.currency)] += amount
                daily = self.daily[(day, entry.currency)]
                daily[1] += 1
                daily[2] += amount
            case OrderShipped():
                entry.status = "SHIPPED"
            case OrderDelivered():
                entry.status = "DELIVERED"
            case OrderCancelled():
                entry.status = "CANCELLED"
                self.customers[entry.customer_id][2] += 1
                daily = self.daily[(day, entry.currency)]
                daily[3] += 1
                if entry.paid_amount:
                    self.lifetime[(entry.customer_id, entry.currency)] -= entry.paid_amount
                    daily[4] += entry.paid_amount
                    entry.paid_amount = ZERO
            case RefundPaid(amount=amount):
                # Counted on the day the money went back, beside that day's revenue.
                self.daily[(day, entry.currency)][5] += amount
        if was_open and entry.status in CLOSED:
            self.customers[entry.customer_id][1] -= 1
        entry.version = recorded.version
        return entry


class SalesProjection(Projection):
    """Per-customer and per-day sales figures."""

    name = "sales"
    tables = (CustomerOrderStats, CustomerLifetimeValue, DailySales, SalesLedgerEntry)
    stream_types = frozenset({"order"})
    # Carried: each archived order's ledger entry and increments (readmodels/projections/carrying.py).
    carry_version = 1

    def __init__(self, store: EventStore | None = None) -> None:
        self.store = store or event_store()

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Fold the batch through the ledger, then add the batch's deltas to the totals."""
        events = [event for event in events if event.stream_type in self.stream_types]
        if not events:
            return
        ids = {UUID(stream_id) for stream_id in {event.stream_id for event in events}}
        ledger: dict[str, LedgerEntry | None] = {
            str(row.order_id): LedgerEntry(row.customer_id, row.currency, row.status, row.paid_amount, row.version)
            for row in SalesLedgerEntry.objects.using(using).filter(order_id__any=ids)
        }
        deltas = Deltas()
        changed: set[str] = set()
        for event in events:
            entry = ledger.get(event.stream_id)
            before = entry.version if entry else 0
            ledger[event.stream_id] = advance_stream(entry, before, event, deltas.fold, self.store)
            if event.version > before:
                changed.add(event.stream_id)
        upsert_rows(
            using,
            SalesLedgerEntry,
            [
                {"order_id": UUID(order_id), **vars(entry)}
                for order_id in sorted(changed)
                if (entry := ledger[order_id]) is not None
            ],
            key="order_id",
        )
        self._apply_deltas(deltas, using)

    def carry(self, events: Sequence[RecordedEvent], seal: Sealer) -> Any:
        """The order's ledger entry and increments (no personal data)."""
        from readmodels.projections.carrying import carry_sale  # builds on this module

        return carry_sale(events)

    def restore_carried(self, carried: Sequence[tuple[str, Any]], using: str) -> None:
        """The carried ledger entries, and their increments added to the totals."""
        from readmodels.projections.carrying import restore_sales  # builds on this module

        restore_sales(carried, using)

    def _apply_deltas(self, deltas: Deltas, using: str) -> None:
        add_deltas(deltas, using)


def add_deltas(deltas: Deltas, using: str) -> None:
    """Add a batch's (or the carried orders') increments to the totals."""
    upsert_increments(
        using,
        CustomerOrderStats,
        ["customer_id"],
        ["orders_count", "open_orders_count", "cancelled_orders_count"],
        [(customer, *counts, deltas.last_order_at.get(customer)) for customer, counts in deltas.customers.items()],
        max_columns=["last_order_at"],
    )
    upsert_increments(
        using,
        CustomerLifetimeValue,
        ["customer_id", "currency"],
        ["amount"],
        [(customer, currency, amount) for (customer, currency), amount in deltas.lifetime.items()],
    )
    upsert_increments(
        using,
        DailySales,
        ["day", "currency"],
        ["orders_placed", "orders_paid", "revenue", "cancellations", "refunded", "refunds_paid"],
        [
            (day, currency, int(values[0]), int(values[1]), values[2], int(values[3]), values[4], values[5])
            for (day, currency), values in deltas.daily.items()
        ],
    )
