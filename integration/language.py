"""The published language: the public event types other services build against.

These are not the internal event classes. They are versioned names and payload shapes
from docs/events.md (the contract); an internal event may be renamed, split or upcast
without changing anything here. A change of shape is a new `.vN` type next to the old one.
Money is a decimal string next to its currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kernel.money import amount_text

SOURCE = "/backoffice"

ORDER_PLACED = "backoffice.order.placed.v1"
ORDER_CONFIRMED = "backoffice.order.confirmed.v1"
ORDER_PAID = "backoffice.order.paid.v1"
ORDER_SHIPPED = "backoffice.order.shipped.v1"
ORDER_DELIVERED = "backoffice.order.delivered.v1"
ORDER_CANCELLED = "backoffice.order.cancelled.v1"
ORDER_REFUND_DUE = "backoffice.order.refund_due.v1"
ORDER_REFUNDED = "backoffice.order.refunded.v1"
ORDER_RETURNED = "backoffice.order.returned.v1"
PRODUCT_STOCK_CHANGED = "backoffice.product.stock_changed.v1"

OUTBOUND_TYPES = (
    ORDER_PLACED,
    ORDER_CONFIRMED,
    ORDER_PAID,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    ORDER_CANCELLED,
    ORDER_REFUND_DUE,
    ORDER_REFUNDED,
    ORDER_RETURNED,
    PRODUCT_STOCK_CHANGED,
)

# Why `backoffice.order.refund_due.v1` grew: a paid order was cancelled, a payment was captured
# for an order already cancelled, or goods came back.
CANCELLED_AFTER_PAYMENT = "cancelled_after_payment"
PAID_AFTER_CANCELLATION = "paid_after_cancellation"
RETURNED = "returned"

PAYMENT_CAPTURED = "payment.captured.v1"
SHIPMENT_DISPATCHED = "shipment.dispatched.v1"
SHIPMENT_DELIVERED = "shipment.delivered.v1"
PAYMENT_REFUNDED = "payment.refunded.v1"

INBOUND_TYPES = (PAYMENT_CAPTURED, SHIPMENT_DISPATCHED, SHIPMENT_DELIVERED, PAYMENT_REFUNDED)


def money(amount: Decimal, currency: str) -> str:
    """A decimal string with exactly the currency's ISO 4217 minor-unit digits (never a float)."""
    return amount_text(amount, currency)


@dataclass(frozen=True, kw_only=True, slots=True)
class PublicEvent:
    """One outbound message before its envelope: type, subject, per-subject sequence, data."""

    id: str
    type: str
    subject: str
    sequence: int
    time: datetime
    correlation_id: str
    causation_id: str
    data: dict[str, Any]
