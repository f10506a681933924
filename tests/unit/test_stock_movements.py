"""Stock leaving with shipments and stock adjusted after counts: the Product aggregate's rules
and its handlers on the in-memory unit of work (no database)."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from inventory.commands import ConsumeStock
from inventory.domain import Product
from inventory.errors import StockBelowReserved
from inventory.events import StockAdjusted, StockConsumed
from kernel.errors import InvalidValue
from tests.factories import AdjustStockFactory, ReceiveStockFactory, RegisterProductFactory
from tests.support.fakes import FakeLog, FakeUnitOfWork
from writeside.bus import MessageBus


def stocked(on_hand: int) -> Product:
    product = Product.register("SKU-1", "Mug", Decimal("9.99"))
    product.receive(on_hand)
    product.collect_events()
    return product


def counts(product: Product) -> tuple[int, int, int]:
    return product.state.on_hand, product.state.reserved, product.state.available


def test_consuming_takes_the_reservation_from_on_hand_and_reserved_alike() -> None:
    product, order = stocked(10), uuid4()
    product.reserve(order, 3)
    product.collect_events()
    assert product.consume(order)
    assert product.collect_events() == [StockConsumed(sku="SKU-1", order_id=order, quantity=3)]
    assert counts(product) == (7, 0, 7)


def test_consuming_twice_or_without_a_reservation_records_nothing() -> None:
    product, order = stocked(10), uuid4()
    product.reserve(order, 3)
    product.consume(order)
    product.collect_events()
    assert not product.consume(order)
    assert not product.consume(uuid4())
    assert product.collect_events() == []
    assert counts(product) == (7, 0, 7)


def test_consuming_a_released_reservation_records_nothing() -> None:
    product, order = stocked(10), uuid4()
    product.reserve(order, 3)
    product.release(order)
    product.collect_events()
    assert not product.consume(order)
    assert counts(product) == (10, 0, 10)


def test_the_state_keeps_only_open_reservations() -> None:
    product = stocked(1_000)
    open_order = uuid4()
    for _ in range(50):
        shipped, cancelled = uuid4(), uuid4()
        product.reserve(shipped, 2)
        product.reserve(cancelled, 1)
        product.consume(shipped)
        product.release(cancelled)
    product.reserve(open_order, 4)
    assert [reservation.order_id for reservation in product.state.reservations] == [open_order]
    assert counts(product) == (900, 4, 896)


def test_adjusting_changes_on_hand_with_a_reason() -> None:
    product = stocked(10)
    product.adjust(-3, "damaged")
    product.adjust(5, "count found more")
    assert product.collect_events() == [
        StockAdjusted(sku="SKU-1", quantity_delta=-3, reason="damaged"),
        StockAdjusted(sku="SKU-1", quantity_delta=5, reason="count found more"),
    ]
    assert counts(product) == (12, 0, 12)


def test_an_adjustment_may_not_count_away_reserved_units() -> None:
    product = stocked(10)
    product.reserve(uuid4(), 4)
    product.collect_events()
    product.adjust(-6, "lost")  # down to exactly what is reserved
    with pytest.raises(StockBelowReserved, match="below the 4 reserved"):
        product.adjust(-1, "lost")
    assert product.collect_events() == [StockAdjusted(sku="SKU-1", quantity_delta=-6, reason="lost")]
    assert counts(product) == (4, 4, 0)


@pytest.mark.parametrize("delta", [0, True, 2.5, "3", 1_000_001, -1_000_001])
def test_a_delta_is_a_non_zero_whole_number(delta: object) -> None:
    with pytest.raises(InvalidValue, match="quantity_delta"):
        stocked(10).adjust(delta, "count")  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "a\x00b", 7])
def test_a_reason_is_1_to_200_characters(reason: object) -> None:
    with pytest.raises(InvalidValue, match="reason"):
        stocked(10).adjust(-1, reason)  # type: ignore[arg-type]


def test_the_handlers_consume_once_and_adjust_through_the_bus() -> None:
    log = FakeLog()
    bus = MessageBus(uow_factory=lambda: FakeUnitOfWork(log))
    bus.handle(RegisterProductFactory(sku="A"))
    bus.handle(ReceiveStockFactory(sku="A", quantity=10))
    first = bus.handle(AdjustStockFactory(sku="A", quantity_delta=-2, reason="damaged"))
    assert first.version == 3
    # A consume of nothing answers the product's version and appends nothing.
    result = bus.handle(ConsumeStock(sku="A", order_id=uuid4()))
    assert result.version == 3
    assert len(log.streams["product:A"]) == 3
    with pytest.raises(StockBelowReserved):
        bus.handle(AdjustStockFactory(sku="A", quantity_delta=-9))
    assert len(log.streams["product:A"]) == 3
