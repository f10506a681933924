"""Event (de)serialization and upcasting of old schemas on read."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar
from uuid import uuid4

import pytest

from eventlog.serialization import EventRegistry, UnknownEventType, registry
from orders.errors import InvalidValue
from orders.events import (
    ORDER_EVENTS,
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderItemAdded,
    OrderItemRemoved,
    OrderLine,
    OrderPaid,
    OrderShipped,
    OrderStockReserved,
)

ORDER = uuid4()
SAMPLES: list[Any] = [
    OrderCreated(
        order_id=ORDER,
        customer_id="c-1",
        currency="EUR",
        lines=(OrderLine(sku="A", quantity=2, unit_price=Decimal("9.99")),),
    ),
    OrderItemAdded(order_id=ORDER, sku="B", quantity=1, unit_price=Decimal("0.50")),
    OrderItemRemoved(order_id=ORDER, sku="B"),
    OrderConfirmed(order_id=ORDER, tracked_skus=("A",)),
    OrderStockReserved(order_id=ORDER),
    OrderPaid(order_id=ORDER, payment_id="p-1", amount=Decimal("19.98")),
    OrderShipped(order_id=ORDER, tracking_number="T-1", carrier="DHL"),
    OrderDelivered(order_id=ORDER),
    OrderCancelled(order_id=ORDER, reason="asked"),
]


def test_samples_cover_every_event_type() -> None:
    assert {type(sample) for sample in SAMPLES} == set(ORDER_EVENTS)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_round_trip(event: Any) -> None:
    event_type, version, data = registry.encode(event)
    assert (event_type, version) == (type(event).__name__, type(event).schema_version)
    assert registry.decode(event_type, version, data) == event


@pytest.mark.parametrize(
    ("stored", "carrier"),
    [
        ({"tracking_number": "T-1"}, "unknown"),  # the original schema had no carrier at all
        ({"tracking_number": "T-1", "carrier": ""}, "unknown"),  # later schema-1 events: empty when not given
        ({"tracking_number": "T-1", "carrier": "UPS"}, "UPS"),
    ],
)
def test_schema_1_shipments_read_as_schema_2_with_a_carrier(stored: dict[str, Any], carrier: str) -> None:
    event = registry.decode("OrderShipped", 1, {"order_id": str(ORDER), **stored})
    assert event == OrderShipped(order_id=ORDER, tracking_number="T-1", carrier=carrier)
    assert registry.encode(event)[1] == 2


def test_a_new_shipment_must_name_its_carrier() -> None:
    with pytest.raises(InvalidValue, match="carrier"):
        OrderShipped(order_id=ORDER, tracking_number="T-1", carrier=" ")


def test_money_is_stored_as_an_exact_string() -> None:
    _, _, data = registry.encode(SAMPLES[5])
    assert data["amount"] == "19.98"


@dataclass(frozen=True, kw_only=True)
class Shipped:
    schema_version: ClassVar[int] = 2
    tracking_number: str
    carrier: str


def test_an_upcaster_turns_old_data_into_the_current_shape() -> None:
    events = EventRegistry()
    events.register(Shipped)

    @events.upcaster("Shipped", from_version=1)
    def add_carrier(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "carrier": "unknown"}

    assert events.decode("Shipped", 1, {"tracking_number": "T"}) == Shipped(tracking_number="T", carrier="unknown")
    assert events.decode("Shipped", 2, {"tracking_number": "T", "carrier": "UPS"}).carrier == "UPS"


def test_a_missing_upcaster_or_type_is_an_error() -> None:
    events = EventRegistry()
    events.register(Shipped)
    with pytest.raises(UnknownEventType, match="No upcaster"):
        events.decode("Shipped", 1, {"tracking_number": "T"})
    with pytest.raises(UnknownEventType, match="No event class"):
        events.decode("Nope", 1, {})
