"""Projection handlers in isolation: pure folds, with a fake event store, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventlog.recorded import RecordedEvent
from eventlog.serialization import registry
from orders.addresses import PaymentMethod
from orders.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderItemAdded,
    OrderLine,
    OrderPaid,
    ShippingAddressChanged,
)
from readmodels.projections.base import advance_stream
from readmodels.projections.order_view import fold_order_view, fold_stream
from readmodels.projections.sales import Deltas
from tests.factories import AddressFactory, recorded_event

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# What schema 2 of OrderCreated and OrderCancelled added.
NEW_FIELDS = {"shipping_address", "billing_address", "payment_method", "refund_due"}


def recorded(event: Any, version: int, position: int | None = None) -> RecordedEvent:
    return recorded_event(
        event,
        stream_id=str(event.order_id),
        stream_type="order",
        version=version,
        position=position or version * 10,
        recorded_at=T0 + timedelta(days=version),
    )


def story(order_id: UUID) -> list[RecordedEvent]:
    lines = (OrderLine(sku="A", quantity=2, unit_price=Decimal("9.99")),)
    return [
        recorded(OrderCreated(order_id=order_id, customer_id="c-1", currency="EUR", lines=lines), 1),
        recorded(OrderItemAdded(order_id=order_id, sku="A", quantity=1, unit_price=Decimal("9.99")), 2),
        recorded(OrderConfirmed(order_id=order_id), 3),
        recorded(OrderPaid(order_id=order_id, payment_id="p-1", amount=Decimal("29.97")), 4),
        recorded(OrderCancelled(order_id=order_id, reason="asked"), 5),
    ]


class FakeStore:
    """Serves stream reads from a list, as the event log would."""

    def __init__(self, events: list[RecordedEvent]) -> None:
        self.events = events
        self.reads = 0

    def read_stream(
        self, stream_id: str, *, after_version: int = 0, to_version: int | None = None
    ) -> list[RecordedEvent]:
        self.reads += 1
        top = to_version if to_version is not None else 10**9
        return [e for e in self.events if e.stream_id == stream_id and after_version < e.version <= top]


def test_order_view_folds_the_whole_story() -> None:
    view = fold_stream(story(uuid4()))
    assert view is not None
    assert view["status"] == "CANCELLED"
    assert view["lines"] == [{"sku": "A", "name": None, "quantity": 3, "unit_price": "9.99", "line_total": "29.97"}]
    assert (view["item_count"], view["total_amount"], view["version"]) == (3, Decimal("29.97"), 5)
    assert view["order_number"] == "ORD-0000010"
    assert [entry["description"] for entry in view["timeline"]][3] == "Paid 29.97 EUR (payment p-1)"


def test_the_timeline_keeps_its_latest_entries_and_counts_them_all() -> None:
    order_id = uuid4()
    created = story(order_id)[0]
    events = [created] + [
        recorded(OrderItemAdded(order_id=order_id, sku="A", quantity=1, unit_price=Decimal("9.99")), version)
        for version in range(2, 10_001)
    ]
    view = None
    sizes = []
    for event in events:
        view = fold_order_view(view, event, timeline_entries=50)
        sizes.append(len(view["timeline"]))
    assert view is not None
    assert [entry["version"] for entry in view["timeline"]] == list(range(9951, 10_001))
    assert view["timeline_count"] == 10_000
    # What each write carries stops growing at the bound: event 50 and event 10,000 alike.
    assert sizes[49:] == [50] * (10_000 - 49)
    assert fold_stream(events, timeline_entries=50) == view
    assert fold_stream(events[:3], timeline_entries=0)["timeline"] == []  # type: ignore[index]


def test_a_duplicate_event_is_skipped() -> None:
    events = story(uuid4())
    store = FakeStore(events)
    view = None
    for event in events[:3]:
        view = advance_stream(view, view["version"] if view else 0, event, fold_order_view, store)  # type: ignore[arg-type]
    again = advance_stream(view, 3, events[1], fold_order_view, store)  # type: ignore[arg-type]
    assert again == view
    assert store.reads == 0


def test_an_event_ahead_of_its_predecessors_catches_the_stream_up_from_the_log() -> None:
    events = story(uuid4())
    store = FakeStore(events)
    view = advance_stream(None, 0, events[4], fold_order_view, store)  # type: ignore[arg-type]
    assert view == fold_stream(events)
    assert store.reads == 1
    # Delivering the earlier ones afterwards (reverse order) changes nothing.
    for event in reversed(events[:4]):
        assert advance_stream(view, view["version"], event, fold_order_view, store) == view  # type: ignore[arg-type,index]


def test_sales_deltas_count_lifetime_value_only_for_paid_and_not_cancelled() -> None:
    events = story(uuid4())
    deltas = Deltas()
    entry = None
    for event in events[:4]:
        entry = deltas.fold(entry, event)
    assert deltas.lifetime[("c-1", "EUR")] == Decimal("29.97")
    assert deltas.customers["c-1"] == [1, 1, 0]
    entry = deltas.fold(entry, events[4])
    assert deltas.lifetime[("c-1", "EUR")] == Decimal("0.00")
    assert deltas.customers["c-1"] == [1, 0, 1]
    assert entry.status == "CANCELLED"
    assert entry.paid_amount == 0
    refunded = deltas.daily[(events[4].recorded_at.date(), "EUR")]
    assert (refunded[3], refunded[4]) == (Decimal(1), Decimal("29.97"))


def test_sales_fold_through_advance_stream_is_idempotent() -> None:
    events = story(uuid4())
    store = FakeStore(events)
    deltas = Deltas()
    entry = None
    for event in events + events:  # everything delivered twice
        entry = advance_stream(entry, entry.version if entry else 0, event, deltas.fold, store)  # type: ignore[arg-type]
    assert deltas.customers["c-1"] == [1, 0, 1]
    assert sum(day[2] for day in deltas.daily.values()) == Decimal("29.97")


def test_order_view_carries_addresses_payment_method_and_the_refund_due() -> None:
    order_id = uuid4()
    home, office = AddressFactory(), AddressFactory(country="AT", line2="c/o Office")
    created = OrderCreated(
        order_id=order_id,
        customer_id="c-1",
        currency="EUR",
        lines=(OrderLine(sku="A", quantity=2, unit_price=Decimal("9.99")),),
        customer_email="ada@example.com",
        shipping_address=home,
        billing_address=home,
        payment_method=PaymentMethod.CARD,
    )
    events = [
        recorded(created, 1),
        recorded(OrderConfirmed(order_id=order_id), 2),
        recorded(OrderPaid(order_id=order_id, payment_id="p-1", amount=Decimal("19.98")), 3),
        recorded(ShippingAddressChanged(order_id=order_id, shipping_address=office), 4),
        recorded(OrderCancelled(order_id=order_id, reason="asked", refund_due=Decimal("19.98")), 5),
    ]
    view = fold_stream(events)
    assert view is not None
    assert (view["customer_email"], view["payment_method"], view["refund_due"]) == (
        "ada@example.com",
        "card",
        Decimal("19.98"),
    )
    assert view["shipping_address"] == vars(office)
    assert view["billing_address"] == vars(home)
    assert view["timeline"][3]["description"] == f"Shipping address changed to {office.city}, AT"


def test_a_schema_1_order_and_cancellation_fold_with_no_addresses_and_the_paid_amount_owed() -> None:
    events = story(uuid4())
    legacy = [
        replace(
            event,
            event=registry.decode(event.event_type, 1, {k: v for k, v in event.data.items() if k not in NEW_FIELDS}),
        )
        for event in events
    ]
    view = fold_stream(legacy)
    assert view is not None
    assert (view["shipping_address"], view["billing_address"], view["payment_method"]) == (None, None, "")
    assert view["refund_due"] == Decimal("29.97")
