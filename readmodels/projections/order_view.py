"""An order as the read side sees it: the view folded from its events, one at a time, that
both of the `orders` projection's tables are written from (readmodels/projections/orders.py),
and which fields of it each table keeps.

A pure fold: the same events give the same view, so a rebuild, a forgetting's refold from the
log, an archived order's carried rows and `as_of` all agree with the live projection. The
view keeps only the latest `timeline_entries` timeline entries and a count of all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventlog.recorded import RecordedEvent
from eventlog.serialization import to_data
from kernel.money import amount_text
from orders.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
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
from readmodels.order_numbers import order_number

# The default of ORDER_TIMELINE_ENTRIES. Changing the setting reshapes rows only as their
# orders move; `rebuild_projections orders` reshapes them all at once.
TIMELINE_ENTRIES = 50
# The view's fields each table keeps beside the order id: the list row's (its DTO's fields are
# these too, readmodels/selectors/summaries.py) and the detail's.
SUMMARY_FIELDS = (
    "order_number",
    "customer_id",
    "status",
    "item_count",
    "total_amount",
    "currency",
    "created_at",
    "updated_at",
    "version",
    "refund_due",
    "refunded",
)
DETAIL_FIELDS = (
    *SUMMARY_FIELDS,
    "lines",
    "payment_id",
    "tracking_number",
    "carrier",
    "cancel_reason",
    "customer_email",
    "shipping_address",
    "billing_address",
    "payment_method",
    "timeline",
    "timeline_count",
)

View = dict[str, Any]


def _line(sku: str, quantity: int, unit_price: Decimal, currency: str) -> dict[str, Any]:
    return {
        "sku": sku,
        # Filled from the catalog when the row is written (catalog_names.py).
        "name": None,
        "quantity": quantity,
        "unit_price": amount_text(unit_price, currency),
        "line_total": amount_text(quantity * unit_price, currency),
    }


def _with_totals(view: View, lines: list[dict[str, Any]]) -> View:
    view["lines"] = lines
    view["item_count"] = sum(line["quantity"] for line in lines)
    view["total_amount"] = sum((Decimal(line["line_total"]) for line in lines), Decimal("0.00"))
    return view


def _take_back(view: View, event: OrderReturned) -> None:
    """Count the returned units on their lines (a line's `returned` key appears with its first
    return, so rows of orders without returns keep their shape) and owe their value back."""
    back = {line.sku: line.quantity for line in event.lines}
    lines = [
        {**line, "returned": line.get("returned", 0) + back[line["sku"]]} if line["sku"] in back else line
        for line in view["lines"]
    ]
    view["lines"] = lines
    view["refund_due"] = view["refund_due"] + event.amount
    if all(line.get("returned", 0) >= line["quantity"] for line in lines):
        view["status"] = "RETURNED"


def describe(event: Any, currency: str) -> str:
    """One line a person reads in the order's timeline."""
    match event:
        case OrderCreated(lines=lines):
            total = sum((line.line_total for line in lines), Decimal("0"))
            return f"Order placed with {len(lines)} line(s), {amount_text(total, event.currency)} {event.currency}"
        case OrderItemAdded(sku=sku, quantity=quantity, unit_price=unit_price):
            return f"Added {quantity} x {sku} at {amount_text(unit_price, currency)} {currency}"
        case OrderItemRemoved(sku=sku):
            return f"Removed {sku}"
        case OrderConfirmed():
            return "Order confirmed"
        case OrderStockReserved():
            return "Stock reserved for every tracked line"
        case OrderPaid(payment_id=payment_id, amount=amount):
            return f"Paid {amount_text(amount, currency)} {currency} (payment {payment_id})"
        case OrderShipped(tracking_number=tracking, carrier=carrier):
            return f"Shipped{' with ' + carrier if carrier else ''}, tracking {tracking}"
        case OrderDelivered():
            return "Delivered"
        case ShippingAddressChanged(shipping_address=address):
            return f"Shipping address changed to {address.city}, {address.country}"
        case OrderCancelled(reason=reason):
            return f"Cancelled: {reason}"
        case PaymentCapturedAfterCancellation(payment_id=payment_id, amount=amount):
            return (
                f"Paid {amount_text(amount, currency)} {currency} after cancellation (payment {payment_id}), owed back"
            )
        case OrderReturned(lines=lines, reason=reason, restock=restock, amount=amount):
            goods = ", ".join(f"{line.quantity} x {line.sku}" for line in lines)
            restocked = ", restocked" if restock else ""
            return f"Returned {goods} ({reason}){restocked}: {amount_text(amount, currency)} {currency} owed back"
        case RefundOwed(amount=amount, reason=reason):
            return f"Refund owed: {amount_text(amount, currency)} {currency} ({reason.replace('_', ' ')})"
        case RefundPaid(refund_id=refund_id, amount=amount):
            return f"Refunded {amount_text(amount, currency)} {currency} (refund {refund_id})"
    return type(event).__name__


def fold_order_view(view: View | None, recorded: RecordedEvent, timeline_entries: int = TIMELINE_ENTRIES) -> View:
    """The order's view after one more event, with the latest `timeline_entries` timeline
    entries; a pure function, also used for `as_of`."""
    event = recorded.event
    if view is None:
        if not isinstance(event, OrderCreated):
            raise LookupError(f"{recorded.event_type} v{recorded.version} of {recorded.stream_id} before OrderCreated")
        view = {
            "order_id": UUID(recorded.stream_id),
            "order_number": order_number(recorded.position),
            "customer_id": event.customer_id,
            "status": "PENDING",
            "currency": event.currency,
            "payment_id": "",
            "tracking_number": "",
            "carrier": "",
            "cancel_reason": "",
            "refund_due": Decimal("0.00"),
            "refunded": Decimal("0.00"),
            # Empty or None where the order has none (every order placed before they existed).
            "customer_email": event.customer_email or "",
            "shipping_address": to_data(event.shipping_address),
            "billing_address": to_data(event.billing_address),
            "payment_method": str(event.payment_method or ""),
            "timeline": [],
            "timeline_count": 0,
            "created_at": recorded.recorded_at,
        }
        _with_totals(view, [_line(line.sku, line.quantity, line.unit_price, event.currency) for line in event.lines])
    else:
        view = dict(view)
        match event:
            case OrderItemAdded(sku=sku, quantity=quantity, unit_price=unit_price):
                lines = [dict(line) for line in view["lines"]]
                existing = next((line for line in lines if line["sku"] == sku), None)
                if existing is None:
                    lines.append(_line(sku, quantity, unit_price, view["currency"]))
                else:
                    total_quantity = existing["quantity"] + quantity
                    existing.update(_line(sku, total_quantity, Decimal(existing["unit_price"]), view["currency"]))
                _with_totals(view, lines)
            case OrderItemRemoved(sku=sku):
                _with_totals(view, [line for line in view["lines"] if line["sku"] != sku])
            case OrderConfirmed():
                view["status"] = "CONFIRMED"
            case OrderPaid(payment_id=payment_id):
                view.update(status="PAID", payment_id=payment_id)
            case OrderShipped(tracking_number=tracking, carrier=carrier):
                view.update(status="SHIPPED", tracking_number=tracking, carrier=carrier)
            case OrderDelivered():
                view["status"] = "DELIVERED"
            case ShippingAddressChanged(shipping_address=address):
                view["shipping_address"] = to_data(address)
            case OrderCancelled(reason=reason, refund_due=refund_due):
                if refund_due is None:  # stored before refunds were recorded: what was paid is owed
                    refund_due = view["total_amount"] if view["status"] == "PAID" else Decimal("0.00")
                view.update(status="CANCELLED", cancel_reason=reason, refund_due=refund_due)
            case PaymentCapturedAfterCancellation(amount=amount):
                view["refund_due"] = view["refund_due"] + amount
            case OrderReturned():
                _take_back(view, event)
            case RefundPaid(amount=amount):
                view.update(refund_due=view["refund_due"] - amount, refunded=view["refunded"] + amount)
    entry = {
        "event_type": recorded.event_type,
        "occurred_at": recorded.recorded_at.isoformat(),
        "description": describe(event, view["currency"]),
        "version": recorded.version,
    }
    timeline = [*view["timeline"], entry]
    # Not timeline[-timeline_entries:]: with 0 that would keep everything.
    view["timeline"] = timeline[max(0, len(timeline) - timeline_entries) :]
    view["timeline_count"] += 1
    view["updated_at"] = recorded.recorded_at
    view["version"] = recorded.version
    return view


def fold_stream(events: Iterable[RecordedEvent], timeline_entries: int = TIMELINE_ENTRIES) -> View | None:
    """The view after all of a stream's events (None for no events)."""
    view: View | None = None
    for recorded in events:
        view = fold_order_view(view, recorded, timeline_entries)
    return view
