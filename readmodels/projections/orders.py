"""The `orders` projection: OrderSummary and OrderDetail, folded from one per-order view.

The detail keeps only the latest `timeline_entries` (ORDER_TIMELINE_ENTRIES) timeline
entries and a count of all of them, so writing an order's row costs the same at its 10th
event and its 10,000th; the whole story is the history endpoint's, a page at a time.

CustomerForgotten refolds each of the customer's orders from the log, up to the version its
row has: the customer's key is gone by then, so their e-mail and address names and lines
read as null, while anything sealed under a newer key (an address given after the
forgetting) stays. A row is therefore exactly what a rebuild from the log writes.

That holds whichever partition commits first (readmodels/forgetting.py): a batch writing
rows with personal data locks their customers' stripes shared and, for a customer the read
side has seen forgotten, refolds the row from the log instead of writing what it decoded
(perhaps just before the key was deleted); the forgetting locks its customer's stripe
exclusive and only then reads the rows it refolds, after every such writer committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings

from eventlog.personal import has_personal_data
from eventlog.serialization import to_data
from eventlog.store import EventStore, RecordedEvent, event_store
from kernel.money import amount_text
from orders.events import (
    CustomerForgotten,
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
from projector.bulk import copy_rows, upsert_rows
from projector.projection import Projection, Sealer
from readmodels.forgetting import forgotten_at, guard, orders_of, record
from readmodels.models import CatalogName, ForgottenCustomer, OrderDetail, OrderStatusCount, OrderSummary
from readmodels.projections.base import advance_stream, upsert_increments
from readmodels.projections.catalog_names import apply_naming, catalog_names, lock_catalog, name_lines, names_product
from readmodels.search import search_text

# The default of ORDER_TIMELINE_ENTRIES. Changing the setting reshapes rows only as their
# orders move; `rebuild_projections orders` reshapes them all at once.
TIMELINE_ENTRIES = 50
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


def order_number(position: int) -> str:
    """Human order number, fixed by the position of the order's first event."""
    return f"ORD-{position:07d}"


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


def count_statuses(using: str, moves: Sequence[tuple[str | None, str]]) -> None:
    """Add the batch's status changes (before, after; None before for a new order) to
    OrderStatusCount, as increments, so partitions projecting in parallel add up."""
    deltas: Counter[str] = Counter()
    for before, after in moves:
        if before != after:
            deltas[after] += 1
            if before is not None:
                deltas[before] -= 1
    upsert_increments(
        using,
        OrderStatusCount,
        ["status"],
        ["orders"],
        [(status, delta) for status, delta in deltas.items() if delta],
    )


def summary_row(view: View) -> View:
    """The order's list row: the summary fields, whose order it is, and its search text."""
    shipping = view["shipping_address"] or {}
    return {
        "order_id": view["order_id"],
        **{field: view[field] for field in SUMMARY_FIELDS},
        "customer_name": shipping.get("name") or "",
        "customer_email": view["customer_email"] or "",
        "search_text": search_text(view),
    }


def _forgets(recorded: RecordedEvent) -> bool:
    return isinstance(recorded.event, CustomerForgotten)


def _personal(view: View) -> bool:
    """True if the row holds any of its customer's personal data in the clear."""
    return has_personal_data(OrderCreated, view)


class OrdersProjection(Projection):
    """Keeps OrderSummary and OrderDetail, one row each per order, in one transaction.

    It also reads product streams, for the catalog names on order lines (CatalogName).
    """

    name = "orders"
    tables = (OrderSummary, OrderDetail, OrderStatusCount, CatalogName)
    writes_beside = (ForgottenCustomer,)
    # Skipping a forgetting would leave the customer's personal data readable in the rows.
    never_skipped = frozenset({CustomerForgotten.__name__})
    # Carried: each archived order's two rows, sealed (readmodels/projections/carrying.py).
    carry_version = 1

    def __init__(self, store: EventStore | None = None) -> None:
        self.store = store or event_store()
        self.timeline_entries = int(settings.ORDER_TIMELINE_ENTRIES)
        self.fold = partial(fold_order_view, timeline_entries=self.timeline_entries)

    def carried_format(self) -> str | None:
        """The base's, and the timeline length the carried rows were folded with."""
        return f"{super().carried_format()}/timeline-{self.timeline_entries}"

    def carry(self, events: Sequence[RecordedEvent], seal: Sealer) -> Any:
        """The order's detail and summary rows as a replay of `events` writes them, sealed."""
        from readmodels.projections.carrying import carry_order  # builds on this module

        return carry_order(events, seal, self.timeline_entries)

    def restore_carried(self, carried: Sequence[tuple[str, Any]], using: str) -> None:
        """The carried orders' rows, and their statuses counted."""
        from readmodels.projections.carrying import restore_orders  # builds on this module

        restore_orders(carried, using, self.timeline_entries)

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Fold the batch into the touched orders' views and upsert both tables."""
        naming = [event for event in events if names_product(event)]
        events = [event for event in events if event.stream_type == "order" or _forgets(event)]
        if not events and not naming:
            return
        # Before any read of names or write of lines; see catalog_names.py for why.
        lock_catalog(using, exclusive=bool(naming))
        if naming:
            apply_naming(naming, using)
        if not events:
            return
        forgettings = [event for event in events if _forgets(event)]
        events = [event for event in events if not _forgets(event)]
        views = self._rows(using, {UUID(stream_id) for stream_id in {event.stream_id for event in events}})
        # Rows absent here cannot appear before this batch commits: an order's rows are
        # inserted only under its partition's checkpoint lock (projector/loop.py); the
        # forgetting, in another partition, only refolds rows that exist.
        stored = set(views)
        status_before = {stream_id: view["status"] for stream_id, view in views.items() if view}
        # Rows that held personal data lock their customer too: overwriting one races the
        # forgetting's refold as writing one does.
        had_personal = {str(view["customer_id"]) for view in views.values() if view and _personal(view)}
        changed: set[str] = set()
        for event in events:
            view = views.get(event.stream_id)
            before = view["version"] if view else 0
            views[event.stream_id] = advance_stream(view, before, event, self.fold, self.store)
            if event.version > before:
                changed.add(event.stream_id)
        rows = {stream_id: row for stream_id in changed if (row := views[stream_id])}
        personal = {stream_id for stream_id, row in rows.items() if _personal(row)}
        erasing = {event.event.customer_id for event in forgettings}
        guard(
            using,
            writing=had_personal | {str(rows[stream_id]["customer_id"]) for stream_id in personal},
            erasing=erasing,
        )
        for event in forgettings:
            record(using, event.event.customer_id, event.position)
        # The forgotten customers' other rows as committed now, after every writer of them:
        # those the event lists, and those it cannot (orders archived before the forgetting
        # are not in the log the write side scans for them).
        listed = orders_of(using, erasing, (order_id for event in forgettings for order_id in event.event.order_ids))
        listed -= changed
        for stream_id, row in self._rows(using, {UUID(stream_id) for stream_id in listed}).items():
            if row and _personal(row):
                rows[stream_id], status_before[stream_id] = row, row["status"]
                personal.add(stream_id)
                stored.add(stream_id)
        forgotten = forgotten_at(using, {str(rows[stream_id]["customer_id"]) for stream_id in personal})
        for stream_id in personal:
            if rows[stream_id]["customer_id"] in forgotten:
                history = self.store.read_stream(stream_id, to_version=rows[stream_id]["version"])
                rows[stream_id] = fold_stream(history, self.timeline_entries) or rows[stream_id]
        self._write([rows[stream_id] for stream_id in sorted(rows)], status_before, stored, using)

    def _rows(self, using: str, ids: set[UUID]) -> dict[str, View | None]:
        if not ids:
            return {}
        rows = OrderDetail.objects.using(using).filter(order_id__any=ids).values("order_id", *DETAIL_FIELDS)
        return {str(row["order_id"]): row for row in rows}

    def _write(self, rows: list[View], status_before: dict[str, str], stored: set[str], using: str) -> None:
        """Count the status moves and write both tables: COPY for rows not `stored` yet,
        an upsert for the others."""
        count_statuses(using, [(status_before.get(str(row["order_id"])), row["status"]) for row in rows])
        names = catalog_names({line["sku"] for row in rows for line in row["lines"]}, using)
        for row in rows:
            row["lines"] = name_lines(row["lines"], names)
        summaries = [summary_row(row) for row in rows]
        for model, table_rows in ((OrderDetail, rows), (OrderSummary, summaries)):
            new = [row for row in table_rows if str(row["order_id"]) not in stored]
            copy_rows(using, model, new)
            upsert_rows(using, model, [row for row in table_rows if str(row["order_id"]) in stored], key="order_id")
