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


@registry.upcaster("OrderCreated", from_version=1)
def order_created_gains_addresses(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: an order placed before addresses existed has none, and no payment method."""
    return {"shipping_address": None, "billing_address": None, "payment_method": None, **data}


@registry.upcaster("OrderCancelled", from_version=1)
def order_cancelled_gains_refund_due(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: the refund was not recorded (None); readers take it from the stream's
    payment, as the cancel itself now does."""
    return {"refund_due": None, **data}
