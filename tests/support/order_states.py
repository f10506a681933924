"""Order aggregates for unit tests: a new order, and one driven into any status by its actions."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from uuid import uuid4

from orders.commands import LineItem
from orders.domain import Order
from orders.events import (
    ReturnedLine,
)
from orders.state import OrderStatus

TOTAL = Decimal("19.98")


STATUS_AFTER = {
    OrderStatus.PENDING: [],
    OrderStatus.CONFIRMED: ["confirm"],
    OrderStatus.PAID: ["confirm", "pay"],
    OrderStatus.SHIPPED: ["confirm", "pay", "ship"],
    OrderStatus.DELIVERED: ["confirm", "pay", "ship", "deliver"],
    OrderStatus.CANCELLED: ["cancel"],
    OrderStatus.RETURNED: ["confirm", "pay", "ship", "deliver", "return"],
}


def order_in(status: OrderStatus) -> Order:
    order = new_order(
        LineItem(sku="A", quantity=2, unit_price=Decimal("9.99")),
        LineItem(sku="Z", quantity=1, unit_price=Decimal("1")),
    )
    for step in STATUS_AFTER[status]:
        ACTIONS[step](order)
    order.collect_events()
    assert order.state.status == status
    return order


ACTIONS: dict[str, Callable[[Order], object]] = {
    "confirm": lambda o: o.confirm(),
    "pay": lambda o: o.pay("pay-1", o.state.total.amount),
    "ship": lambda o: o.ship("TRK-1", "DHL"),
    "deliver": lambda o: o.deliver(),
    "cancel": lambda o: o.cancel("changed mind"),
    "cancel_unpaid": lambda o: o.cancel_unpaid("payment deadline passed"),
    "add": lambda o: o.add_item("B", 1, Decimal("1.00")),
    "remove": lambda o: o.remove_item("Z"),
    "return": lambda o: o.take_back(
        [ReturnedLine(sku=line.sku, quantity=line.quantity) for line in o.state.lines], "all back", restock=False
    ),
}


def new_order(*items: LineItem) -> Order:
    order = Order.create(uuid4(), "c-1", "EUR", items or (LineItem(sku="A", quantity=2, unit_price=Decimal("9.99")),))
    order.collect_events()
    return order
