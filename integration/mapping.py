"""The one place internal events become public ones (the published language, language.py).

Each public payload carries the subject's state after the event (event-carried state
transfer), folded with the domain's own evolve functions from the relay's carried fold of the
subject's stream (integration/carried_state.py) or its first event, so a consumer never needs
to call back. Internal events with no public meaning (item edits
before confirmation, stock-reservation bookkeeping, catalog names) are deliberately not
published; an event type this module does not know at all raises UnmappableEvent, which the
relay parks as a dead letter instead of guessing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore
from integration import language
from integration.carried_state import StreamFold
from integration.language import PublicEvent, money
from inventory.domain import ProductState, evolve_product
from inventory.events import (
    ProductEvent,
    ProductRegistered,
    ProductRenamed,
    StockAdjusted,
    StockConsumed,
    StockReceived,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
)
from orders.events import (
    CANCELLED_AFTER_PAYMENT,
    RETURNED,
    CustomerForgotten,
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderEvent,
    OrderItemAdded,
    OrderItemRemoved,
    OrderPaid,
    OrderReturned,
    OrderShipped,
    OrderStockReserved,
    PaymentCapturedAfterCancellation,
    RefundOwed,
    RefundPaid,
    ShippingAddressChanged,
)
from orders.state import OrderState, evolve_order

# Internal facts other services have no use for: known, and published as nothing.
UNPUBLISHED: frozenset[type] = frozenset(
    {
        OrderItemAdded,
        OrderItemRemoved,
        OrderStockReserved,
        # Where a parcel goes is the shipping service's business through the back office, and
        # the published language carries no personal data (docs/events.md).
        ShippingAddressChanged,
        # Consumers were never sent personal data, so they have nothing to erase.
        CustomerForgotten,
        ProductRegistered,
        ProductRenamed,
        StockReservationFailed,
    }
)


ORDER_PUBLISHED = (
    OrderCreated,
    OrderConfirmed,
    OrderPaid,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    PaymentCapturedAfterCancellation,
    OrderReturned,
    RefundOwed,
    RefundPaid,
)
STOCK_PUBLISHED = (
    StockReceived,
    StockReserved,
    StockReleased,
    # Goods leaving with a shipment, and counts or write-offs, change on hand.
    StockConsumed,
    StockAdjusted,
    # Goods a customer sent back, restocked.
    StockRestocked,
)
KNOWN: frozenset[type] = UNPUBLISHED | frozenset(ORDER_PUBLISHED) | frozenset(STOCK_PUBLISHED)


def known_digest() -> str:
    """A short digest of the event types this mapping knows: a fold made while a type was
    unknown skipped its events, so a release that learns it must not start from that fold
    (integration/carried_state.py keeps it in a fold's shape)."""
    names = ",".join(sorted(kind.__name__ for kind in KNOWN))
    return hashlib.sha256(names.encode()).hexdigest()[:12]


# Why an order owes money back, in the published language's words.
REFUND_REASONS = {CANCELLED_AFTER_PAYMENT: language.CANCELLED_AFTER_PAYMENT, RETURNED: language.RETURNED}


class UnmappableEvent(Exception):
    """An internal event the published language has no rule for."""


def _order_base(state: OrderState) -> dict[str, Any]:
    return {"order_id": str(state.order_id), "customer_id": state.customer_id, "status": str(state.status)}


def _lines(state: OrderState) -> dict[str, Any]:
    return {
        "currency": state.currency,
        "lines": [
            {"sku": line.sku, "quantity": line.quantity, "unit_price": money(line.unit_price, state.currency)}
            for line in state.lines
        ],
        "total": money(state.total.amount, state.currency),
    }


def _refund_due(state: OrderState, change: Decimal, reason: str) -> tuple[str, dict[str, Any]]:
    return language.ORDER_REFUND_DUE, {
        **_order_base(state),
        "refund_due": money(state.refund_due, state.currency),
        "change": money(change, state.currency),
        "currency": state.currency,
        "reason": reason,
    }


def _order_payload(event: OrderEvent, state: OrderState, paid: Decimal) -> tuple[str, dict[str, Any]]:
    """The public type and data of an order event, given the state after it."""
    base = _order_base(state)
    match event:
        case OrderCreated():
            return language.ORDER_PLACED, {**base, **_lines(state)}
        case OrderConfirmed():
            return language.ORDER_CONFIRMED, {**base, **_lines(state)}
        case OrderPaid(payment_id=payment_id, amount=amount):
            return language.ORDER_PAID, {
                **base,
                "payment_id": payment_id,
                "amount": money(amount, state.currency),
                "currency": state.currency,
            }
        case OrderShipped(tracking_number=tracking_number):
            return language.ORDER_SHIPPED, {**base, "tracking_number": tracking_number}
        case OrderDelivered():
            return language.ORDER_DELIVERED, base
        case OrderCancelled(reason=reason):
            return language.ORDER_CANCELLED, {
                **base,
                "reason": reason,
                "refund_due": money(paid, state.currency),
                "currency": state.currency,
            }
        case PaymentCapturedAfterCancellation(amount=amount):
            # No backoffice.order.paid.v1: the order stays cancelled, and billing refunds from this.
            return _refund_due(state, amount, language.PAID_AFTER_CANCELLATION)
        case OrderReturned(lines=lines, restock=restock):
            return language.ORDER_RETURNED, {
                **base,
                "lines": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
                "restock": restock,
                "currency": state.currency,
            }
        case RefundOwed(amount=amount, reason=reason):
            return _refund_due(state, amount, REFUND_REASONS[reason])
        case RefundPaid(refund_id=refund_id, amount=amount):
            return language.ORDER_REFUNDED, {
                **base,
                "refund_id": refund_id,
                "amount": money(amount, state.currency),
                "currency": state.currency,
                "refund_due": money(state.refund_due, state.currency),
            }
    raise UnmappableEvent(f"no public type for {type(event).__name__}")


def _stock_payload(state: ProductState) -> dict[str, Any]:
    return {"sku": state.sku, "on_hand": state.on_hand, "reserved": state.reserved, "available": state.available}


def _public(recorded: RecordedEvent, type_: str, data: dict[str, Any]) -> PublicEvent:
    metadata = recorded.metadata or {}
    return PublicEvent(
        id=str(recorded.event_id),
        type=type_,
        subject=str(data.get("order_id") or data.get("sku")),
        sequence=recorded.version,
        time=recorded.recorded_at,
        correlation_id=str(metadata.get("correlation_id", "")),
        causation_id=str(metadata.get("causation_id", "")),
        data=data,
    )


def _translate_stream(
    history: Sequence[RecordedEvent], wanted: set[int], start: StreamFold
) -> tuple[list[PublicEvent], StreamFold]:
    """Fold one stream's history on from `start`; the public events of the versions in
    `wanted`, and the fold after the last event read.

    Whatever the fold carries from one event to the next belongs in StreamFold: a batch may
    start from a stored one (integration/carried_state.py; bump its FOLD_VERSION then)."""
    published: list[PublicEvent] = []
    order, product, paid = start.order, start.product, start.paid
    for recorded in history:
        event, due = recorded.event, recorded.version in wanted
        if type(event) not in KNOWN:
            if due:
                raise UnmappableEvent(f"no public type for {recorded.event_type} (event {recorded.event_id})")
            continue  # parked earlier and skipped by a person: the rest of the stream goes on
        if isinstance(event, OrderEvent):
            order = evolve_order(order, event)
            paid = event.amount if isinstance(event, OrderPaid) else paid
            if due and isinstance(event, ORDER_PUBLISHED):
                type_, data = _order_payload(event, order, paid)
                published.append(_public(recorded, type_, data))
        elif isinstance(event, ProductEvent):
            product = evolve_product(product, event)
            if due and isinstance(event, STOCK_PUBLISHED):
                published.append(_public(recorded, language.PRODUCT_STOCK_CHANGED, _stock_payload(product)))
    version = history[-1].version if history else start.version
    return published, StreamFold(version=version, order=order, product=product, paid=paid)


def translate_from(
    events: Sequence[RecordedEvent], store: EventStore, carried: Mapping[str, StreamFold]
) -> tuple[list[PublicEvent], dict[str, StreamFold]]:
    """The public events of `events` (ascending position), in the same order, and each touched
    stream's fold after its last version in the batch.

    A stream is read from its fold in `carried` when that fold ends before the stream's first
    version in the batch (integration/carried_state.py), else from its first event; either way
    only up to its last version in the batch. Raises UnmappableEvent before anything is
    published if one event has no public rule.
    """
    wanted: dict[str, set[int]] = {}
    for recorded in events:
        wanted.setdefault(recorded.stream_id, set()).add(recorded.version)
    by_id: dict[str, PublicEvent] = {}
    folds: dict[str, StreamFold] = {}
    for stream_id, versions in wanted.items():
        start = carried.get(stream_id)
        if start is None or not start.starts(min(versions)):
            start = StreamFold()
        history = store.read_stream(stream_id, after_version=start.version, to_version=max(versions))
        published, folds[stream_id] = _translate_stream(history, versions, start)
        for public in published:
            by_id[public.id] = public
    return [by_id[str(recorded.event_id)] for recorded in events if str(recorded.event_id) in by_id], folds


def translate(events: Sequence[RecordedEvent], store: EventStore) -> list[PublicEvent]:
    """The public events of `events`, each stream folded from its first event (`translate_from`)."""
    return translate_from(events, store, {})[0]
