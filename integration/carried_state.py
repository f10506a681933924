"""The state public events carry, kept by the relay per stream, so that translating an event
costs the same whatever the length of its stream's history.

Guarantee: a public payload is the state after its event, exactly as a fold from the stream's
first event would give it. The relay stores the fold of each touched stream of
CARRIED_FROM_VERSION events or more after the batch's last version (CarriedState), in the
transaction that moves its checkpoint: a batch rolled back (a broker that refused it, a
redelivery) rolls its folds back with it, so the next attempt starts from the fold before that
batch. A stored fold is a starting point only when it ends before the batch's first version
and was made for the same shapes of state and the same published language. Otherwise (a
replay from an older position, a held event retried after a dead letter, a release that
changed a state's shape, or one that learned an event type whose events a dead letter's skip
had let the fold pass) the stream is folded from its first event, as it would be without
this, and the result replaces the stored one. Events are immutable, so the fold at a version
is the same however it was reached: a stored fold can be behind, never wrong.

The write side's snapshots are not used: one may be written at any version while the relay is
behind (usually after the batch's first version, so useless to it), it is sealed under keys
that forgetting erases, and it lacks what the mapping carries beside the state.

Personal data: an order's fold is stored with every personal field set to None (what erased
data reads as). The published language carries no personal data, so the payloads are the same
and this table holds nothing that forgetting a customer would have to reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eventlog.personal import redact
from eventlog.serialization import from_data, to_data
from integration.models import CarriedState
from inventory.domain import ProductState
from inventory.repository import PRODUCT_STATE_VERSION
from orders.repository import ORDER_STATE_VERSION
from orders.state import OrderState

# Bump when StreamFold changes shape; the domain states' own versions are part of it too, so a
# release that changes either state folds every stream from its start once instead of misreading.
FOLD_VERSION = 1
SHAPE = f"fold{FOLD_VERSION}/order{ORDER_STATE_VERSION}/product{PRODUCT_STATE_VERSION}"


# A stream is carried from this many events on. A shorter one is folded from its first event,
# which costs about what reading and storing a fold costs (docs/performance-log.md): the common
# batch (orders of a few events) pays no query for it, and the table holds a row per long
# stream (a busy SKU, rarely an order), not one per order.
CARRIED_FROM_VERSION = 50


def shape(known: str) -> str:
    """The shape of a fold made by a mapping that knows the event types `known` digests (a fold
    skips the events of types it does not know, which a dead letter's skip lets it pass)."""
    return f"{SHAPE}/{known}"


@dataclass(frozen=True, kw_only=True)
class StreamFold:
    """What the mapping knows of a stream after folding it up to `version` (0: nothing yet)."""

    version: int = 0
    order: OrderState | None = None
    product: ProductState | None = None
    # The last payment's amount: a cancellation's public event owes it back.
    paid: Decimal = Decimal("0.00")

    def starts(self, first_version: int) -> bool:
        """True if a batch whose first event is `first_version` may be folded from here."""
        return self.version < first_version


def stored_form(fold: StreamFold) -> dict[str, Any]:
    """The fold as the table holds it: JSON, an order's personal fields None."""
    data: dict[str, Any] = to_data(fold)
    if data["order"] is not None:
        data["order"] = redact(OrderState, data["order"])
    return data


def carried_folds(first_versions: Mapping[str, int], using: str, known: str) -> dict[str, StreamFold]:
    """The stored folds (of the current shape) of the streams whose batch starts past
    CARRIED_FROM_VERSION, given each stream's first version in the batch, in one query."""
    long = [stream_id for stream_id, first in first_versions.items() if first > CARRIED_FROM_VERSION]
    if not long:
        return {}
    rows = CarriedState.objects.using(using).filter(stream_id__in=long, shape=shape(known))
    return {stream_id: from_data(state, StreamFold) for stream_id, state in rows.values_list("stream_id", "state")}


def carry(folds: Mapping[str, StreamFold], using: str, known: str) -> None:
    """Store the fold of each stream at CARRIED_FROM_VERSION or past it, replacing what was
    stored, in one statement."""
    rows = [
        CarriedState(stream_id=stream_id, version=fold.version, shape=shape(known), state=stored_form(fold))
        for stream_id, fold in folds.items()
        if fold.version >= CARRIED_FROM_VERSION
    ]
    if rows:
        CarriedState.objects.using(using).bulk_create(
            rows, update_conflicts=True, unique_fields=["stream_id"], update_fields=["version", "shape", "state"]
        )
