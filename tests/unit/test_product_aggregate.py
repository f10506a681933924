"""The Product aggregate's stock rules, without a database."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from eventlog.serialization import registry
from inventory.domain import Product
from inventory.events import (
    PRODUCT_EVENTS,
    ProductRegistered,
    ProductRenamed,
    StockAdjusted,
    StockConsumed,
    StockReceived,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    product_stream,
)
from kernel.errors import InvalidValue
from orders.events import OrderConfirmed


def stocked(on_hand: int) -> Product:
    product = Product.register("SKU-1", "Mug", Decimal("9.99"))
    if on_hand:
        product.receive(on_hand)
    product.collect_events()
    return product


def test_registering_starts_a_stream_with_no_stock() -> None:
    product = Product.register("SKU-1", "Mug", Decimal("9.99"))
    assert product.id == product_stream("SKU-1") == "product:SKU-1"
    assert product.collect_events() == [ProductRegistered(sku="SKU-1", name="Mug", price=Decimal("9.99"))]
    assert (product.state.on_hand, product.state.reserved, product.state.available) == (0, 0, 0)


def test_reserving_takes_from_available_not_from_on_hand() -> None:
    product, order = stocked(5), uuid4()
    assert product.reserve(order, 3)
    assert product.collect_events() == [StockReserved(sku="SKU-1", order_id=order, quantity=3)]
    assert (product.state.on_hand, product.state.reserved, product.state.available) == (5, 3, 2)


def test_a_second_reservation_for_the_same_order_is_recorded_once() -> None:
    product, order = stocked(5), uuid4()
    product.reserve(order, 2)
    product.collect_events()
    assert not product.reserve(order, 2)
    assert product.collect_events() == []
    assert product.state.reserved == 2


def test_reserving_more_than_available_records_a_failure_instead_of_raising() -> None:
    product, first, second = stocked(3), uuid4(), uuid4()
    product.reserve(first, 2)
    assert product.reserve(second, 2)
    assert product.collect_events()[-1] == StockReservationFailed(sku="SKU-1", order_id=second, quantity=2, available=1)
    assert (product.state.reserved, product.state.available) == (2, 1)
    assert product.state.reservation(second) is None


def test_releasing_gives_the_reservation_back() -> None:
    product, order = stocked(4), uuid4()
    product.reserve(order, 4)
    assert product.state.available == 0
    assert product.release(order)
    assert product.collect_events()[-1] == StockReleased(sku="SKU-1", order_id=order, quantity=4)
    assert product.state.available == 4


def test_releasing_an_unknown_reservation_is_a_no_op() -> None:
    product = stocked(4)
    assert not product.release(uuid4())
    assert product.collect_events() == []


def test_renaming_to_the_same_name_records_nothing() -> None:
    product = stocked(0)
    assert not product.rename("Mug")
    assert product.rename("Big mug")
    assert product.collect_events() == [ProductRenamed(sku="SKU-1", name="Big mug")]


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, True, 2.5])
def test_receipts_must_be_positive_whole_numbers(quantity: object) -> None:
    with pytest.raises(InvalidValue, match="quantity"):
        stocked(0).receive(quantity)  # type: ignore[arg-type]


def test_available_never_goes_negative_whatever_the_sequence() -> None:
    product = stocked(2)
    orders = [uuid4() for _ in range(5)]
    for order in orders:
        product.reserve(order, 1)
        assert product.state.available >= 0
    product.release(orders[0])
    product.reserve(orders[4], 1)
    assert product.state.on_hand == 2
    assert 0 <= product.state.reserved <= 2


def test_replay_equals_live_state() -> None:
    product, order = stocked(5), uuid4()
    events = [ProductRegistered(sku="SKU-1", name="Mug", price=Decimal("9.99")), StockReceived(sku="SKU-1", quantity=5)]
    product.reserve(order, 2)
    events += product.collect_events()
    assert Product.replay(product.id, events).state == product.state


def test_product_events_round_trip_through_the_registry() -> None:
    order = uuid4()
    samples = [
        ProductRegistered(sku="S", name="N", price=Decimal("1.50")),
        ProductRenamed(sku="S", name="M"),
        StockReceived(sku="S", quantity=3),
        StockReserved(sku="S", order_id=order, quantity=1),
        StockReservationFailed(sku="S", order_id=order, quantity=9, available=2),
        StockReleased(sku="S", order_id=order, quantity=1),
        StockConsumed(sku="S", order_id=order, quantity=1),
        StockAdjusted(sku="S", quantity_delta=-2, reason="damaged"),
        StockRestocked(sku="S", order_id=order, quantity=1),
    ]
    assert {type(sample) for sample in samples} == set(PRODUCT_EVENTS)
    for sample in samples:
        assert registry.decode(*registry.encode(sample)) == sample


def test_order_confirmed_stored_before_inventory_reads_as_tracking_nothing() -> None:
    order = uuid4()
    assert registry.decode("OrderConfirmed", 1, {"order_id": str(order)}) == OrderConfirmed(order_id=order)
    assert OrderConfirmed(order_id=order).tracked_skus == ()


@pytest.mark.parametrize("sku", ["", " SKU", "SKU/1", "SKU 1", "SKU\n1", "-SKU", "x" * 57])
def test_a_product_sku_must_be_safe_in_a_url(sku: str) -> None:
    with pytest.raises(InvalidValue, match="sku"):
        Product.register(sku, "Mug", Decimal("9.99"))


def test_returned_units_go_back_on_hand() -> None:
    product, order = stocked(5), uuid4()
    product.restock(order, 2)
    assert (product.state.on_hand, product.state.available) == (7, 7)
    assert product.collect_events()[-1] == StockRestocked(sku="SKU-1", order_id=order, quantity=2)
