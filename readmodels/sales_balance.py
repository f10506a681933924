"""The sales check (`manage.py verify --check sales`): each day's money balances.

The guarantee it checks: for every day and currency, the daily sales read model shows
exactly what that day's payments and cancellations say, added up from the order streams
payment by payment rather than through the sales projection's ledger:

* orders_paid and revenue: the number and sum of the payments (OrderPaid) recorded that day;
* refunded: what the cancellations recorded that day owed back, i.e. what each cancelled
  order had been paid;
* refunds_paid: the sum of the refunds paid out that day (RefundPaid).

So revenue - refunds_paid of a day is what its payments and refunds say. The sales projection
adds up partitions of the log independently, so each partition's events are counted up to
the position the projection has applied on that partition (its checkpoint): a projection
still catching up is compared with the log where it stands, never reported as diverging.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connections, transaction

from eventlog.buckets import bucket_of
from eventlog.history import whole_log
from eventlog.recorded import RecordedEvent
from eventlog.store import event_store
from orders.events import OrderCancelled, OrderCreated, OrderEvent, OrderPaid, RefundPaid
from projector import shadow
from projector.loop import read_database
from projector.models import ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.verification import Divergence, Options
from readmodels.models import DailySales

CHECK = "sales"
ZERO = Decimal("0")
# Events read from the log per query.
PAGE = 2000


@dataclass
class OrderMoney:
    """What one order's stream has said about money so far."""

    currency: str
    paid: Decimal = ZERO


# What an event adds to its day's figures: {column: amount}, given the order's money before it.
Entry = Callable[[OrderEvent, OrderMoney], dict[str, Decimal]]


def _paid(event: OrderEvent, order: OrderMoney) -> dict[str, Decimal]:
    assert isinstance(event, OrderPaid)
    order.paid += event.amount
    return {"orders_paid": Decimal(1), "revenue": event.amount}


def _cancelled(event: OrderEvent, order: OrderMoney) -> dict[str, Decimal]:
    owed, order.paid = order.paid, ZERO
    return {"refunded": owed} if owed else {}


def _refund_paid(event: OrderEvent, order: OrderMoney) -> dict[str, Decimal]:
    assert isinstance(event, RefundPaid)
    return {"refunds_paid": event.amount}


# The books of a day, by event type.
ENTRIES: dict[type, Entry] = {OrderPaid: _paid, OrderCancelled: _cancelled, RefundPaid: _refund_paid}
COLUMNS = ("orders_paid", "revenue", "refunded", "refunds_paid")


@dataclass
class SalesTally:
    """Each (day, currency)'s figures as the streams say them."""

    orders: dict[str, OrderMoney] = field(default_factory=dict)
    days: defaultdict[tuple[date, str], defaultdict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: ZERO))
    )

    def count(self, recorded: RecordedEvent) -> None:
        """Note one event of an order stream."""
        event = recorded.event
        if isinstance(event, OrderCreated):
            self.orders[recorded.stream_id] = OrderMoney(currency=event.currency)
            return
        entry = ENTRIES.get(type(event))
        order = self.orders.get(recorded.stream_id)
        if entry is None or order is None:
            return
        figures = self.days[(recorded.recorded_at.date(), order.currency)]
        for column, amount in entry(event, order).items():
            figures[column] += amount


def daily_sales_balances(options: Options) -> list[Divergence]:
    """Every day and currency whose sales figures do not balance with the log (module docstring)."""
    using = read_database()
    shown, applied = _shown(using)
    tally = SalesTally()
    for recorded in order_events(using):
        if recorded.position <= applied.get(_partition(recorded), 0):
            tally.count(recorded)
    found: list[Divergence] = []
    for key in sorted(set(shown) | set(tally.days)):
        row: dict[str, Any] = shown.get(key, {})
        said: Mapping[str, Decimal] = tally.days.get(key, {})
        for column in COLUMNS:
            if Decimal(row.get(column, 0)) != said.get(column, ZERO):
                found.append(
                    Divergence(
                        CHECK,
                        f"{key[0]}/{key[1]}",
                        f"{column} is {row.get(column, 'missing')}; the day's events say {said.get(column, ZERO)}",
                    )
                )
    return found


def order_events(using: str) -> Iterator[RecordedEvent]:
    """Every event of every order stream, in the log and in the archive, in position order.

    The read database's rebuild lock is held until the last one is read, so the archiver
    moves no stream out of the log meanwhile (eventlog/history.py).
    """
    postgresql = connections[using].vendor == "postgresql"
    with shadow.exclusive(using) if postgresql else nullcontext():
        store, after = whole_log(event_store()), 0
        while batch := store.read_all(after, limit=PAGE):
            after = batch[-1].position
            yield from (recorded for recorded in batch if recorded.stream_type == "order")


def _shown(using: str) -> tuple[dict[tuple[date, str], dict[str, Any]], dict[int, int]]:
    """The daily sales rows and the checkpoints that account for them, as of one moment: the
    projection commits both together, and one snapshot sees them together."""
    # Inside a caller's transaction the snapshot is the caller's to choose.
    own_transaction = not connections[using].in_atomic_block
    with transaction.atomic(using=using):
        if connections[using].vendor == "postgresql" and own_transaction:
            with connections[using].cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        checkpoints = ProjectionCheckpoint.objects.using(using).filter(projection="sales")
        applied = dict(checkpoints.values_list("partition", "position"))
        rows = DailySales.objects.using(using).values("day", "currency", *COLUMNS)
        return {(row["day"], row["currency"]): row for row in rows}, applied


def _partition(recorded: RecordedEvent) -> int:
    return partition_of_bucket(bucket_of(recorded.stream_id))
