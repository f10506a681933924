"""The reservations check (`manage.py verify --check reservations`): goods that left or were
given back hold no stock.

The guarantee it checks (fulfilment/manager.py): once an order's fulfilment has ended
(shipped, released after a cancellation, out of stock), no reservation of that order stays
open on any product: shipping consumed it, the cancellation or the shortfall released it.
A reservation stays open only for a confirmed order that has not shipped, so `reserved` is
what the confirmed, unshipped orders hold.

Each product stream is looked at as of its head, and only the reservations the process
manager has read (at or below its checkpoint of the product's partition): one it has not read
yet is consumed or released once it does. The processes' states are read before the streams'
last events: a process that ended committed its releases or consumptions together with its
state, so they are among the events read after it.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings

from eventlog.buckets import bucket_of
from eventlog.store import event_store
from fulfilment.models import FulfilmentProcess
from fulfilment.process import HOLDING_STOCK
from inventory.events import product_stream
from projector.loop import read_database
from projector.models import ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.verification import Divergence, Options
from readmodels.models import ProductStock
from readmodels.stock_balance import StockTally

CHECK = "reservations"


def reservations_held(options: Options) -> list[Divergence]:
    """Every reservation still open for an order whose fulfilment has ended (module docstring)."""
    read = dict(
        ProjectionCheckpoint.objects.using(read_database())
        .filter(projection="fulfilment")
        .values_list("partition", "position")
    )
    found: list[Divergence] = []
    for sku in ProductStock.objects.using(read_database()).order_by("sku").values_list("sku", flat=True):
        stream = product_stream(sku)
        found += _held(sku, stream, read.get(partition_of_bucket(bucket_of(stream)), 0))
    return found


def _held(sku: str, stream: str, seen: int) -> list[Divergence]:
    store, tally = event_store(), StockTally()
    events = store.read_stream(stream)
    for recorded in events:
        tally.count(recorded)
    wanted = [order for order, (_units, position) in tally.open_reservations.items() if position <= seen]
    if not wanted:
        return []
    ended = _ended(wanted)
    for recorded in store.read_stream(stream, after_version=events[-1].version):
        tally.count(recorded)
    return [
        Divergence(
            CHECK,
            f"product {sku}",
            f"{tally.open_reservations[order][0]} unit(s) still reserved for order {order},"
            f" whose fulfilment is {ended[order]}",
        )
        for order in sorted(wanted, key=str)
        if order in ended and order in tally.open_reservations
    ]


def _ended(orders: list[UUID]) -> dict[UUID, str]:
    """The status of each of `orders` whose fulfilment process no longer holds stock."""
    processes = FulfilmentProcess.objects.using(settings.EVENTLOG_DATABASE).filter(order_id__in=orders)
    return dict(processes.exclude(status__in=list(HOLDING_STOCK)).values_list("order_id", "status"))
