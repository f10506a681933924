"""The stock check (`manage.py verify --check stock`): every product's stock balances.

The guarantee it checks: the stock the products read model shows is what the goods did, by
the product's own stream, counted movement by movement rather than refolded the way the
projection folds it (so a fold that drifts is caught here even if the read-model check's
fresh replay drifts with it):

* on_hand = received + restocked (returned goods put back) + adjusted - consumed (stock that
  left with a shipment);
* reserved = the units of the reservations still open (reserved, and neither released nor
  consumed since), and available = on_hand - reserved, never negative.

Each row is compared with its stream as of the row's own version, so a read model still
catching up is compared with the log at its position, never reported as diverging. That
no reservation stays open for an order whose fulfilment ended is the `reservations` check's
(fulfilment/verification.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from uuid import UUID

from eventlog.recorded import RecordedEvent
from eventlog.store import event_store
from inventory.events import (
    StockAdjusted,
    StockConsumed,
    StockReceived,
    StockReleased,
    StockReserved,
    StockRestocked,
    product_stream,
)
from projector.loop import read_database
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
    rows = ProductStock.objects.using(read_database()).order_by("sku")
    for sku, on_hand, reserved, available, version in rows.values_list(
        "sku", "on_hand", "reserved", "available", "version"
    ):
        tally = StockTally()
        for recorded in store.read_stream(product_stream(sku), to_version=version):
            tally.count(recorded)
        subject = f"product {sku} (v{version})"
        shown = {"on_hand": on_hand, "reserved": reserved, "available": available}
        balanced = {"on_hand": tally.on_hand, "reserved": tally.reserved, "available": tally.on_hand - tally.reserved}
        for name in shown:
            if shown[name] != balanced[name]:
                found.append(Divergence(CHECK, subject, f"{name} is {shown[name]}; {_explained(name, tally)}"))
        if balanced["available"] < 0:
            found.append(Divergence(CHECK, subject, f"the stream reserves {tally.reserved} of {tally.on_hand} on hand"))
    return found


def _explained(name: str, tally: StockTally) -> str:
    if name == "on_hand":
        terms = " + ".join(f"{kind} {units}" for kind, units in sorted(tally.movements.items())) or "nothing"
        return f"its movements make {tally.on_hand} ({terms})"
    if name == "reserved":
        return f"its {len(tally.open_reservations)} open reservation(s) hold {tally.reserved}"
    return f"on hand less reserved is {tally.on_hand - tally.reserved}"
