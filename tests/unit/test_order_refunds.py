"""Refunds and returns on the Order aggregate: what is owed grows from a cancelled payment, a
late payment and a return, shrinks by each refund paid (once per refund id, never below
zero), and a return takes back only what was delivered and not returned yet."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from kernel.errors import BusinessRuleViolated, InvalidTransition, InvalidValue
from orders.commands import LineItem
from orders.domain import Order
from orders.events import OrderReturned, RefundOwed, RefundPaid, ReturnedLine
from orders.state import OrderStatus


def delivered(*items: LineItem) -> Order:
    order = Order.create(
        uuid4(),
        "c-1",
        "EUR",
        items
        or (
            LineItem(sku="A", quantity=2, unit_price=Decimal("9.99")),
            LineItem(sku="B", quantity=1, unit_price=Decimal("5.00")),
        ),
    )
    order.confirm()
    order.pay("pay-1", order.state.total.amount)
    order.ship("TRK-1", "DHL")
    order.deliver()
    order.collect_events()
    return order


def back(sku: str, quantity: int) -> ReturnedLine:
    return ReturnedLine(sku=sku, quantity=quantity)


def test_a_return_owes_the_returned_lines_value_and_a_full_one_is_returned() -> None:
    order = delivered()
    order.take_back([back("A", 1)], "too big", restock=True)
    assert (order.state.status, order.state.refund_due) == (OrderStatus.DELIVERED, Decimal("9.99"))
    # The rest of the order comes back, and it is RETURNED.
    order.take_back([back("A", 1), back("B", 1)], "all of it", restock=False)
    assert (order.state.status, order.state.refund_due) == (OrderStatus.RETURNED, Decimal("24.98"))
    events = order.collect_events()
    assert events[0] == OrderReturned(
        order_id=order.order_id, lines=(back("A", 1),), reason="too big", restock=True, amount=Decimal("9.99")
    )
    assert events[1] == RefundOwed(order_id=order.order_id, amount=Decimal("9.99"), reason="returned")
    assert isinstance(events[2], OrderReturned)
    assert events[2].amount == Decimal("14.99")


@pytest.mark.parametrize(
    "lines",
    [
        [back("NOPE", 1)],  # not on the order
        [back("A", 3)],  # more than delivered
        [back("A", 2), back("A", 1)],  # the same SKU named twice, adding up to too many
    ],
)
def test_a_return_of_what_was_not_delivered_is_refused(lines: list[ReturnedLine]) -> None:
    order = delivered()
    with pytest.raises(BusinessRuleViolated):
        order.take_back(lines, "why", restock=False)
    assert order.collect_events() == []


def test_a_partly_returned_order_takes_back_only_what_is_left() -> None:
    order = delivered()
    order.take_back([back("A", 1)], "one", restock=False)
    with pytest.raises(BusinessRuleViolated, match="1 delivered and not returned yet"):
        order.take_back([back("A", 2)], "two more", restock=False)
    order.take_back([back("A", 1)], "the other", restock=False)
    assert order.state.returned_quantity("A") == 2


@pytest.mark.parametrize("steps", [[], ["confirm"], ["confirm", "pay"], ["confirm", "pay", "ship"], ["cancel"]])
def test_only_a_delivered_order_takes_goods_back(steps: list[str]) -> None:
    order = Order.create(uuid4(), "c-1", "EUR", [LineItem(sku="A", quantity=1, unit_price=Decimal("1.00"))])
    for step in steps:
        match step:
            case "confirm":
                order.confirm()
            case "pay":
                order.pay("p", Decimal("1.00"))
            case "ship":
                order.ship("T")
            case "cancel":
                order.cancel("no")
    with pytest.raises(InvalidTransition):
        order.take_back([back("A", 1)], "why", restock=False)


def test_a_returned_order_takes_nothing_more_back() -> None:
    order = delivered(LineItem(sku="A", quantity=1, unit_price=Decimal("1.00")))
    order.take_back([back("A", 1)], "all", restock=True)
    with pytest.raises(InvalidTransition):
        order.take_back([back("A", 1)], "again", restock=True)


def test_a_return_with_no_lines_or_a_blank_reason_is_invalid() -> None:
    order = delivered()
    with pytest.raises(InvalidValue):
        order.take_back([], "nothing", restock=False)
    with pytest.raises(InvalidValue):
        order.take_back([back("A", 1)], " ", restock=False)


def test_refunds_pay_back_at_most_what_is_owed_once_per_refund_id() -> None:
    order = delivered()
    order.take_back([back("A", 2)], "both", restock=False)
    with pytest.raises(BusinessRuleViolated, match="more than"):
        order.refund("rf-1", Decimal("19.99"))
    assert order.refund("rf-1", Decimal("10.00")) is True
    # The same payout again, even with another amount, changes nothing.
    assert order.refund("rf-1", Decimal("9.98")) is False
    assert order.refund("rf-2", Decimal("9.98")) is True
    assert (order.state.refund_due, order.state.refunded) == (Decimal("0.00"), Decimal("19.98"))
    assert order.collect_events()[2:] == [
        RefundPaid(order_id=order.order_id, refund_id="rf-1", amount=Decimal("10.00")),
        RefundPaid(order_id=order.order_id, refund_id="rf-2", amount=Decimal("9.98")),
    ]
    with pytest.raises(BusinessRuleViolated):
        order.refund("rf-3", Decimal("0.01"))


def test_a_refund_in_another_currency_is_refused() -> None:
    order = delivered()
    order.take_back([back("B", 1)], "b", restock=False)
    with pytest.raises(BusinessRuleViolated, match="USD"):
        order.refund("rf-1", Decimal("5.00"), "USD")
    assert order.refund("rf-1", Decimal("5.00"), "EUR") is True


def test_a_cancelled_paid_order_and_a_late_payment_are_owed_and_refundable() -> None:
    order = Order.create(uuid4(), "c-1", "EUR", [LineItem(sku="A", quantity=1, unit_price=Decimal("3.00"))])
    order.confirm()
    order.cancel_unpaid("payment deadline passed")
    assert order.state.refund_due == Decimal("0.00")  # nothing was paid: nothing owed
    with pytest.raises(BusinessRuleViolated):
        order.refund("rf-0", Decimal("0.01"))
    order.pay("late", Decimal("3.00"))
    assert order.state.refund_due == Decimal("3.00")
    order.refund("rf-1", Decimal("3.00"))
    assert (order.state.status, order.state.refund_due, order.state.refunded) == (
        OrderStatus.CANCELLED,
        Decimal("0.00"),
        Decimal("3.00"),
    )


def test_replaying_the_events_gives_the_same_state() -> None:
    order = delivered()
    events: list[object] = []
    order.take_back([back("A", 1)], "one", restock=True)
    order.refund("rf-1", Decimal("4.00"))
    order.take_back([back("A", 1), back("B", 1)], "rest", restock=False)
    events = [*order.collect_events()]
    again = delivered()
    for event in events:
        again._record(event)  # type: ignore[arg-type]
    assert again.state.returned == order.state.returned
    assert (again.state.refund_due, again.state.refunded, again.state.status) == (
        Decimal("20.98"),
        Decimal("4.00"),
        OrderStatus.RETURNED,
    )


def test_refunds_and_returns_stop_at_the_most_events_an_order_may_hold() -> None:
    order = Order(str(uuid4()), max_events=9)
    for event in Order.create(
        uuid4(), "c-1", "EUR", [LineItem(sku="A", quantity=50, unit_price=Decimal("1.00"))]
    ).collect_events():
        order._record(event)
    for step in (order.confirm, lambda: order.pay("p", Decimal("50.00")), lambda: order.ship("T"), order.deliver):
        step()
    order.take_back([back("A", 3)], "1", restock=False)  # OrderReturned and RefundOwed
    order.refund("rf-1", Decimal("1.00"))
    assert order.version == 8
    # A return needs two places, and only one is left.
    with pytest.raises(BusinessRuleViolated, match="most events"):
        order.take_back([back("A", 1)], "2", restock=False)
    order.refund("rf-2", Decimal("1.00"))
    with pytest.raises(BusinessRuleViolated, match="most events"):
        order.refund("rf-3", Decimal("1.00"))
    assert (order.version, order.state.refund_due) == (9, Decimal("1.00"))
