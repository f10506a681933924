"""Consuming the stock of orders that shipped before shipments consumed it.

The process manager consumes a shipped order's reservations when it sees OrderShipped;
orders that shipped before it did still hold theirs (on hand and reserved overstated by the
same units; available right). This hands each such order's OrderShipped to the process
manager as if it were delivered now: the same decision, the same command ids (derived from
that event), the same locks. So it is safe beside a running worker and any number of times:
a second run, or the worker seeing the same event, finds the process SHIPPED and does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from eventlog.recorded import RecordedEvent
from eventlog.store import event_store
from fulfilment.manager import FulfilmentProcessManager
from fulfilment.models import FulfilmentProcess
from fulfilment.process import HOLDING_STOCK, LineStatus
from orders.events import OrderShipped

# Orders handed over per transaction: each holds the append lock while it consumes.
BATCH = 100


@dataclass(frozen=True, kw_only=True)
class Backlog:
    """Shipped orders still holding reservations, and the units they hold."""

    orders: int
    units: int


def _shipped_holding_stock() -> Iterator[tuple[RecordedEvent, int]]:
    """Each shipped order whose process still holds stock: its OrderShipped, the units held."""
    alias = str(settings.EVENTLOG_DATABASE)
    store = event_store(alias)
    rows = FulfilmentProcess.objects.using(alias).filter(status__in=HOLDING_STOCK).order_by("started_at", "order_id")
    for process in rows.iterator(chunk_size=BATCH):
        shipped = next(
            (event for event in store.read_stream(str(process.order_id)) if isinstance(event.event, OrderShipped)),
            None,
        )
        if shipped is not None:
            held = sum(
                process.quantities.get(sku, 0) for sku, status in process.lines.items() if status == LineStatus.RESERVED
            )
            yield shipped, held


def shipped_backlog() -> Backlog:
    """What `consume_shipped_before` would consume, changing nothing."""
    orders = units = 0
    for _, held in _shipped_holding_stock():
        orders, units = orders + 1, units + held
    return Backlog(orders=orders, units=units)


def consume_shipped_before() -> Backlog:
    """Consume the reservations of every shipped order that still holds some; what it found."""
    manager = FulfilmentProcessManager()
    alias = str(settings.EVENTLOG_DATABASE)
    found = list(_shipped_holding_stock())
    for start in range(0, len(found), BATCH):
        manager.apply([shipped for shipped, _ in found[start : start + BATCH]], alias)
    return Backlog(orders=len(found), units=sum(held for _, held in found))
