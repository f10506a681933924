"""The stock check (`manage.py verify --check stock`): every product's stock balances.

The guarantee it checks: the stock the products read model shows is what the goods did, by
the product's own stream, counted movement by movement rather than refolded the way the
projection folds it (so a fold that drifts is caught here even if the read-model check's
fresh replay drifts with it):

* on_hand = received + restocked (returned goods put back) + adjusted - consumed (stock that
  left with a shipment);
* reserved = the units of the reservations still open (reserved, and neither released nor
  consumed since), and available = on_hand - reserved, never negative;
* no open reservation belongs to an order whose fulfilment has ended (shipped, released
  after a cancellation, out of stock): goods that left or were given back hold nothing.

Each row is compared with its stream as of the row's own version, so a read model still
catching up is compared with the log at its position, never reported as diverging. A
reservation the fulfilment process manager has not read yet (past its checkpoint) is left
out of the last rule, which looks at the stream's head: the process consumes or releases
such a reservation once it reads it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

from django.conf import settings

from eventlog.store import RecordedEvent, bucket_of, event_store
from fulfilment.models import FulfilmentProcess
from fulfilment.process import HOLDING_STOCK
from inventory.domain import product_stream
from inventory.events import (
    StockAdjusted,
    StockConsumed,
    StockReceived,
    StockReleased,
    StockReserved,
    StockRestocked,
)
from projector.loop import read_database
from projector.models import ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.verification import Divergence, Options
from readmodels.models import ProductStock

CHECK = "stock"


@dataclass
class StockTally:
    """What one product's stream says, movement by movement."""

    movements: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    # order -> (units, position of the StockReserved) of each reservation still open
    open_reservations: dict[UUID, tuple[int, int]] = field(default_factory=dict)

    @property
    def on_hand(self) -> int:
        """received + restocked + adjusted - consumed."""
        return sum(self.movements.values())

    @property
    def reserved(self) -> int:
        """Units of the reservations still open."""
        return sum(units for units, _position in self.open_reservations.values())

    def count(self, recorded: RecordedEvent) -> None:
        """Note one event of the stream."""
        event = recorded.event
        match event:
            case StockReserved(order_id=order_id, quantity=quantity):
                self.open_reservations[order_id] = (quantity, recorded.position)
            case StockReleased(order_id=order_id):
                self.open_reservations.pop(order_id, None)
            case StockConsumed(order_id=order_id, quantity=quantity):
                self.open_reservations.pop(order_id, None)
                self.movements["consumed"] -= quantity
            case StockAdjusted(quantity_delta=delta):
                self.movements["adjusted"] += delta
            case StockReceived(quantity=quantity):
                self.movements["received"] += quantity
            case StockRestocked(quantity=quantity):
                self.movements["restocked"] += quantity


def stock_balances(options: Options) -> list[Divergence]:
    """Every product row whose stock does not balance with its stream (module docstring)."""
    store = event_store()
    found: list[Divergence] = []
    fulfilment_read = _checkpoints("fulfilment")
    rows = ProductStock.objects.using(read_database()).order_by("sku")
    for sku, on_hand, reserved, available, version in rows.values_list(
        "sku", "on_hand", "reserved", "available", "version"
    ):
        stream = product_stream(sku)
        events = store.read_stream(stream)
        tally = StockTally()
        for recorded in events:
            if recorded.version <= version:
                tally.count(recorded)
        subject = f"product {sku} (v{version})"
        shown = {"on_hand": on_hand, "reserved": reserved, "available": available}
        balanced = {"on_hand": tally.on_hand, "reserved": tally.reserved, "available": tally.on_hand - tally.reserved}
        for name in shown:
            if shown[name] != balanced[name]:
                found.append(Divergence(CHECK, subject, f"{name} is {shown[name]}; {_explained(name, tally)}"))
        if balanced["available"] < 0:
            found.append(Divergence(CHECK, subject, f"the stream reserves {tally.reserved} of {tally.on_hand} on hand"))
        seen_by_fulfilment = fulfilment_read.get(partition_of_bucket(bucket_of(stream)), 0)
        found += _held_after_fulfilment(subject, stream, events, seen_by_fulfilment)
    return found


def _held_after_fulfilment(subject: str, stream: str, events: list[RecordedEvent], seen: int) -> list[Divergence]:
    """Open reservations, at the stream's head, of orders whose fulfilment no longer holds stock.

    Only reservations the process manager has read (at or below its checkpoint `seen`) are
    looked at. The processes' states are read before the stream's last events: a process
    that ended had committed its releases or consumptions with its state, so they are read.
    """
    now = StockTally()
    for recorded in events:
        now.count(recorded)
    wanted = [order for order, (_units, position) in now.open_reservations.items() if position <= seen]
    if not wanted:
        return []
    processes = FulfilmentProcess.objects.using(settings.EVENTLOG_DATABASE).filter(order_id__in=wanted)
    ended = dict(processes.exclude(status__in=list(HOLDING_STOCK)).values_list("order_id", "status"))
    for recorded in event_store().read_stream(stream, after_version=events[-1].version):
        now.count(recorded)
    return [
        Divergence(
            CHECK,
            subject,
            f"{now.open_reservations[order][0]} unit(s) still reserved for order {order},"
            f" whose fulfilment is {ended[order]}",
        )
        for order in sorted(wanted, key=str)
        if order in ended and order in now.open_reservations
    ]


def _explained(name: str, tally: StockTally) -> str:
    if name == "on_hand":
        terms = " + ".join(f"{kind} {units}" for kind, units in sorted(tally.movements.items())) or "nothing"
        return f"its movements make {tally.on_hand} ({terms})"
    if name == "reserved":
        return f"its {len(tally.open_reservations)} open reservation(s) hold {tally.reserved}"
    return f"on hand less reserved is {tally.on_hand - tally.reserved}"


def _checkpoints(projection: str) -> dict[int, int]:
    rows = ProjectionCheckpoint.objects.using(read_database()).filter(projection=projection)
    return dict(rows.values_list("partition", "position"))
