"""Product commands and the order's stock gate through the one bus, on the in-memory unit of work."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from inventory.commands import ReceiveStock, ReleaseStock, RenameProduct, ReserveStock
from inventory.domain import Product
from inventory.errors import ProductAlreadyExists, ProductNotFound
from inventory.events import StockReservationFailed, StockReserved
from kernel.errors import InvalidTransition
from orders.commands import CreateOrder, LineItem, MarkStockReserved, PayOrder
from orders.domain import Order
from orders.errors import StockNotReserved
from orders.events import OrderConfirmed, OrderCreated, OrderPaid, OrderStockReserved
from tests.factories import ConfirmOrderFactory, ReceiveStockFactory, RegisterProductFactory
from tests.support.fakes import FakeLog, FakeUnitOfWork
from writeside.bus import MessageBus


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def bus(log: FakeLog) -> MessageBus:
    return MessageBus(uow_factory=lambda: FakeUnitOfWork(log))


def register(bus: MessageBus, sku: str, on_hand: int = 0) -> None:
    bus.handle(RegisterProductFactory(sku=sku))
    if on_hand:
        bus.handle(ReceiveStockFactory(sku=sku, quantity=on_hand))


def place(bus: MessageBus, *skus: str) -> CreateOrder:
    create = CreateOrder(
        customer_id="c-1",
        currency="EUR",
        items=tuple(LineItem(sku=sku, quantity=2, unit_price=Decimal("5.00")) for sku in skus),
    )
    bus.handle(create)
    return create


def test_product_commands_append_to_the_products_stream(bus: MessageBus, log: FakeLog) -> None:
    register(bus, "SKU-1", on_hand=5)
    result = bus.handle(RenameProduct(sku="SKU-1", name="Renamed"))
    assert (result.stream_id, result.version) == ("product:SKU-1", 3)
    assert len(log.streams["product:SKU-1"]) == 3


def test_registering_a_sku_twice_is_refused(bus: MessageBus) -> None:
    register(bus, "SKU-1")
    with pytest.raises(ProductAlreadyExists):
        register(bus, "SKU-1")


def test_commands_on_an_unknown_product_are_refused(bus: MessageBus) -> None:
    with pytest.raises(ProductNotFound):
        bus.handle(ReceiveStock(sku="NOPE", quantity=1))


def test_a_repeated_reservation_succeeds_without_a_second_event(bus: MessageBus, log: FakeLog) -> None:
    register(bus, "SKU-1", on_hand=5)
    order = uuid4()
    first = bus.handle(ReserveStock(sku="SKU-1", order_id=order, quantity=2))
    again = bus.handle(ReserveStock(sku="SKU-1", order_id=order, quantity=2))  # another command id
    assert (again.version, again.position) == (first.version, first.position)
    assert [type(e) for e in log.streams["product:SKU-1"]].count(StockReserved) == 1


def test_a_shortfall_is_a_committed_fact_not_an_error(bus: MessageBus, log: FakeLog) -> None:
    register(bus, "SKU-1", on_hand=1)
    result = bus.handle(ReserveStock(sku="SKU-1", order_id=uuid4(), quantity=2))
    assert result.version == 3
    assert isinstance(log.streams["product:SKU-1"][-1], StockReservationFailed)


def test_releasing_nothing_is_a_recorded_no_op(bus: MessageBus, log: FakeLog) -> None:
    register(bus, "SKU-1", on_hand=1)
    command = ReleaseStock(sku="SKU-1", order_id=uuid4())
    result = bus.handle(command)
    assert result.version == 2
    assert command.command_id in log.commands  # a retry answers the same without loading
    assert len(log.streams["product:SKU-1"]) == 2


def test_confirm_records_which_lines_are_registered_products(bus: MessageBus, log: FakeLog) -> None:
    register(bus, "TRACKED", on_hand=5)
    create = place(bus, "TRACKED", "FREE")
    bus.handle(ConfirmOrderFactory(order_id=create.order_id))
    confirmed = log.streams[str(create.order_id)][-1]
    assert confirmed == OrderConfirmed(order_id=create.order_id, tracked_skus=("TRACKED",))


def test_an_order_of_unregistered_skus_is_paid_as_before(bus: MessageBus, log: FakeLog) -> None:
    create = place(bus, "FREE")
    bus.handle(ConfirmOrderFactory(order_id=create.order_id))
    paid = bus.handle(PayOrder(order_id=create.order_id, payment_id="p", amount=Decimal("10.00")))
    # Nothing to reserve: no stock gate, the payment is the order's third event.
    assert paid.version == 3
    assert [type(event) for event in log.streams[str(create.order_id)]] == [OrderCreated, OrderConfirmed, OrderPaid]


def test_payment_waits_for_the_stock_reservation(bus: MessageBus, log: FakeLog) -> None:
    register(bus, "TRACKED", on_hand=5)
    create = place(bus, "TRACKED")
    bus.handle(ConfirmOrderFactory(order_id=create.order_id))
    pay = PayOrder(order_id=create.order_id, payment_id="p", amount=Decimal("10.00"))
    with pytest.raises(StockNotReserved):
        bus.handle(pay)
    assert issubclass(StockNotReserved, InvalidTransition)  # answered 409
    bus.handle(MarkStockReserved(order_id=create.order_id))
    assert bus.handle(MarkStockReserved(order_id=create.order_id)).version == 3  # once only
    assert [type(e) for e in log.streams[str(create.order_id)]].count(OrderStockReserved) == 1
    assert bus.handle(pay).version == 4


def test_one_command_still_changes_exactly_one_aggregate() -> None:
    log = FakeLog()
    bus = MessageBus(uow_factory=lambda: FakeUnitOfWork(log))
    register(bus, "A")
    with FakeUnitOfWork(log) as uow:
        uow.repository(Product).get("A").receive(1)
        uow.repository(Order).add(
            Order.create(uuid4(), "c-1", "EUR", [LineItem(sku="A", quantity=1, unit_price=Decimal("1"))])
        )
        with pytest.raises(RuntimeError, match="exactly one aggregate"):
            uow.commit()
