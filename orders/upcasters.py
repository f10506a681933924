"""Upcasters for order events whose stored schema is older than the class.

Stored events are never rewritten; each upcaster turns one schema version's data into the
next on every read, so rebuilds, history and `as_of` see one shape whatever the log holds.
"""

from __future__ import annotations

from typing import Any

from eventlog.serialization import registry
from orders.events import UNKNOWN_CARRIER


@registry.upcaster("OrderShipped", from_version=1)
def order_shipped_gains_carrier(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: a shipment stored without a carrier (or an empty one) names UNKNOWN_CARRIER."""
    return {**data, "carrier": data.get("carrier") or UNKNOWN_CARRIER}
