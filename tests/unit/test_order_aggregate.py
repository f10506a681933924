"""The Order aggregate: every lifecycle transition, every refused one, every rule."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from kernel.errors import BusinessRuleViolated, InvalidTransition, InvalidValue
from orders.commands import LineItem
from orders.domain import MAX_LINES, Order
from orders.errors import LineNotFound
from orders.events import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderPaid,
    OrderShipped,
    PaymentCapturedAfterCancellation,
)
from orders.state import OrderStatus
from tests.support.order_states import ACTIONS, TOTAL, new_order, order_in

PATH = ["confirm", "pay", "ship", "deliver"]
ALLOWED = {
    OrderStatus.PENDING: {"confirm", "cancel", "add", "remove"},
    OrderStatus.CONFIRMED: {"pay", "cancel", "cancel_unpaid"},
    OrderStatus.PAID: {"ship", "cancel"},
    OrderStatus.SHIPPED: {"deliver"},
    OrderStatus.DELIVERED: {"return"},
    OrderStatus.CANCELLED: {"pay"},  # a payment captured too late is recorded and owed back
    OrderStatus.RETURNED: set(),
}


def test_happy_path_records_one_event_per_step() -> None:
    order = order_in(OrderStatus.PENDING)
    for step in PATH:
        ACTIONS[step](order)
    assert [type(e) for e in order.collect_events()] == [OrderConfirmed, OrderPaid, OrderShipped, OrderDelivered]
    assert order.state.status == OrderStatus.DELIVERED
    assert order.version == 5


@pytest.mark.parametrize(
    ("status", "action"),
    [(status, action) for status, actions in ALLOWED.items() for action in sorted(actions)],
)
def test_allowed_transitions(status: OrderStatus, action: str) -> None:
    order = order_in(status)
    ACTIONS[action](order)
    # A cancelled payment and a return owe money back: a RefundOwed follows them.
    owing = (status, action) in {(OrderStatus.PAID, "cancel"), (OrderStatus.DELIVERED, "return")}
    assert len(order.collect_events()) == 1 + owing


@pytest.mark.parametrize(
    ("status", "action"),
    [(status, action) for status in OrderStatus for action in sorted(set(ACTIONS) - ALLOWED[status])],
)
def test_refused_transitions_record_nothing(status: OrderStatus, action: str) -> None:
    order = order_in(status)
    version = order.version
    with pytest.raises(InvalidTransition, match=f"in status {status}"):
        ACTIONS[action](order)
    assert order.collect_events() == []
    assert order.version == version


def test_refusal_message_names_the_action_and_status() -> None:
    with pytest.raises(InvalidTransition, match=r"^Cannot pay an order in status PENDING$"):
        new_order().pay("p", TOTAL)


@pytest.mark.parametrize("status", [OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.PAID])
def test_cancel_records_the_reason(status: OrderStatus) -> None:
    order = order_in(status)
    order.cancel("out of budget")
    event, *_ = order.collect_events()
    assert isinstance(event, OrderCancelled)
    assert order.state.cancel_reason == "out of budget"


def test_create_merges_repeated_skus_and_counts_lines() -> None:
    order = Order.create(
        uuid4(),
        "c-1",
        "EUR",
        [
            LineItem(sku="A", quantity=2, unit_price=Decimal("1.50")),
            LineItem(sku="A", quantity=3, unit_price=Decimal("1.50")),
        ],
    )
    (created,) = order.collect_events()
    assert isinstance(created, OrderCreated)
    assert [(line.sku, line.quantity) for line in created.lines] == [("A", 5)]
    assert order.state.total.amount == Decimal("7.50")


def test_adding_a_sku_on_the_order_adds_to_its_quantity() -> None:
    order = new_order()
    order.add_item("A", 3, Decimal("9.99"))
    assert order.state.line("A").quantity == 5  # type: ignore[union-attr]
    assert len(order.state.lines) == 1


@pytest.mark.parametrize(
    ("items", "error", "match"),
    [
        ((), BusinessRuleViolated, "at least one line"),
        ((LineItem(sku="A", quantity=0, unit_price=Decimal("1")),), InvalidValue, "quantity"),
        ((LineItem(sku="A", quantity=10_001, unit_price=Decimal("1")),), InvalidValue, "quantity"),
        ((LineItem(sku="A", quantity=1, unit_price=Decimal("0")),), InvalidValue, "unit_price"),
        ((LineItem(sku="A", quantity=1, unit_price=Decimal("-1")),), InvalidValue, "unit_price"),
        ((LineItem(sku="A", quantity=1, unit_price=Decimal("1.999")),), InvalidValue, "2 decimal"),
        ((LineItem(sku="", quantity=1, unit_price=Decimal("1")),), InvalidValue, "sku"),
        (
            (
                LineItem(sku="A", quantity=1, unit_price=Decimal("1")),
                LineItem(sku="A", quantity=1, unit_price=Decimal("2")),
            ),
            BusinessRuleViolated,
            "already on the order",
        ),
        (
            tuple(LineItem(sku=f"S{n}", quantity=1, unit_price=Decimal("1")) for n in range(MAX_LINES + 1)),
            BusinessRuleViolated,
            "at most 50 lines",
        ),
    ],
)
def test_create_rules(items: tuple[LineItem, ...], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Order.create(uuid4(), "c-1", "EUR", items)


def test_fifty_lines_are_allowed_and_the_fifty_first_is_refused() -> None:
    order = Order.create(
        uuid4(), "c-1", "EUR", [LineItem(sku=f"S{n}", quantity=1, unit_price=Decimal("1")) for n in range(MAX_LINES)]
    )
    order.collect_events()
    with pytest.raises(BusinessRuleViolated, match="at most 50 lines"):
        order.add_item("ONE-TOO-MANY", 1, Decimal("1"))
    assert order.collect_events() == []


@pytest.mark.parametrize("currency", ["EURO", "eur", "XXX", ""])
def test_currency_must_be_iso_4217(currency: str) -> None:
    with pytest.raises(InvalidValue, match="currency"):
        Order.create(uuid4(), "c-1", currency, [LineItem(sku="A", quantity=1, unit_price=Decimal("1"))])


def test_add_item_rules() -> None:
    order = new_order()
    with pytest.raises(BusinessRuleViolated, match=r"already on the order at 9\.99"):
        order.add_item("A", 1, Decimal("8.00"))
    with pytest.raises(BusinessRuleViolated, match="exceed 10000"):
        order.add_item("A", 9_999, Decimal("9.99"))
    with pytest.raises(InvalidValue, match="quantity"):
        order.add_item("B", 0, Decimal("1"))
    assert order.collect_events() == []


def test_remove_item_rules() -> None:
    order = new_order()
    with pytest.raises(LineNotFound):
        order.remove_item("NOPE")
    with pytest.raises(BusinessRuleViolated, match="last line"):
        order.remove_item("A")
    assert order.collect_events() == []


@pytest.mark.parametrize("amount", [Decimal("20.97"), Decimal("20.99"), Decimal("1")])
def test_payment_must_equal_the_total(amount: Decimal) -> None:
    order = order_in(OrderStatus.CONFIRMED)
    with pytest.raises(BusinessRuleViolated, match=r"does not equal the order total 20\.98 EUR"):
        order.pay("pay-1", amount)
    assert order.collect_events() == []
    assert order.state.status == OrderStatus.CONFIRMED


def test_replay_gives_the_live_state() -> None:
    order = new_order()
    order.add_item("B", 2, Decimal("0.50"))
    order.confirm()
    replayed = Order.replay(
        order.id,
        [
            *Order.create(
                order.order_id, "c-1", "EUR", [LineItem(sku="A", quantity=2, unit_price=Decimal("9.99"))]
            ).collect_events(),
            *order.collect_events(),
        ],
    )
    assert replayed.state == order.state
    assert replayed.version == order.version


@pytest.mark.parametrize("carrier", ["", "   "])
def test_a_shipment_without_a_carrier_records_the_unknown_carrier(carrier: str) -> None:
    order = order_in(OrderStatus.PAID)
    order.ship("TRK-1", carrier)
    assert order.collect_events()[-1] == OrderShipped(
        order_id=order.order_id, tracking_number="TRK-1", carrier="unknown"
    )
    assert order.state.carrier == "unknown"


def test_only_an_unpaid_confirmed_order_is_cancelled_as_unpaid_and_it_owes_nothing() -> None:
    order = order_in(OrderStatus.CONFIRMED)
    order.cancel_unpaid("payment deadline passed")
    [cancelled] = order.collect_events()
    assert cancelled == OrderCancelled(order_id=order.order_id, reason="payment deadline passed", refund_due=Decimal(0))
    paid = order_in(OrderStatus.PAID)
    with pytest.raises(InvalidTransition, match=r"^Cannot cancel as unpaid an order in status PAID$"):
        paid.cancel_unpaid("payment deadline passed")


def cancelled_by_the_deadline() -> Order:
    order = order_in(OrderStatus.CONFIRMED)
    order.cancel_unpaid("payment deadline passed")
    order.collect_events()
    return order


def test_a_payment_captured_after_the_cancellation_is_recorded_and_its_amount_owed_back() -> None:
    order = cancelled_by_the_deadline()
    total = order.state.total.amount
    assert order.pay("pay-late", total, "EUR") is True
    assert order.collect_events() == [
        PaymentCapturedAfterCancellation(order_id=order.order_id, payment_id="pay-late", amount=total)
    ]
    assert (order.state.status, order.state.amount_paid, order.state.refund_due) == (
        OrderStatus.CANCELLED,
        total,
        total,
    )
    assert order.state.late_payment_ids == ("pay-late",)


def test_the_same_late_payment_twice_is_owed_once_and_another_one_adds_to_it() -> None:
    order = cancelled_by_the_deadline()
    total = order.state.total.amount
    order.pay("pay-late", total)
    version = order.version
    assert order.pay("pay-late", total, "EUR") is False
    assert order.version == version
    assert order.state.refund_due == total
    order.pay("pay-again", total)
    assert order.state.refund_due == 2 * total
    events = order.collect_events()
    assert [event.payment_id for event in events if isinstance(event, PaymentCapturedAfterCancellation)] == [
        "pay-late",
        "pay-again",
    ]


def test_the_payment_of_a_paid_then_cancelled_order_delivered_again_is_not_owed_twice() -> None:
    order = order_in(OrderStatus.PAID)
    order.cancel("customer asked")
    order.collect_events()
    total = order.state.total.amount
    assert order.state.refund_due == total
    assert order.pay("pay-1", total) is False
    assert order.collect_events() == []
    assert order.state.refund_due == total


@pytest.mark.parametrize(("amount", "currency"), [(Decimal("20.97"), "EUR"), (Decimal("20.98"), "USD")])
def test_a_late_payment_of_another_amount_or_currency_is_refused_as_on_a_live_order(
    amount: Decimal, currency: str
) -> None:
    order = cancelled_by_the_deadline()
    version = order.version
    with pytest.raises(BusinessRuleViolated, match=r"does not equal the order total 20\.98 EUR"):
        order.pay("pay-late", amount, currency)
    assert (order.collect_events(), order.version, order.state.refund_due) == ([], version, Decimal("0.00"))


def test_a_late_payment_with_an_invalid_id_is_refused_as_on_a_live_order() -> None:
    order = cancelled_by_the_deadline()
    with pytest.raises(InvalidValue, match="payment_id"):
        order.pay("", order.state.total.amount)
    assert order.collect_events() == []


def test_late_payments_stop_at_the_most_events_an_order_may_hold() -> None:
    placed = order_in(OrderStatus.CONFIRMED)
    order = Order.replay(placed.id, [], state=placed.state, version=placed.version, max_events=6)
    order.cancel_unpaid("payment deadline passed")
    total = order.state.total.amount
    for number in range(6 - order.version):
        order.pay(f"pay-{number}", total)
    assert order.version == 6
    with pytest.raises(BusinessRuleViolated, match="holds the most events an order may"):
        order.pay("pay-one-too-many", total)
    assert order.version == 6


def test_a_replayed_late_payment_gives_the_live_state() -> None:
    order = Order.create(uuid4(), "c-1", "EUR", [LineItem(sku="A", quantity=2, unit_price=Decimal("9.99"))])
    order.confirm()
    order.cancel_unpaid("payment deadline passed")
    order.pay("pay-late", TOTAL)
    replayed = Order.replay(order.id, order.collect_events())
    assert (replayed.state, replayed.version) == (order.state, order.version)
    assert replayed.state.refund_due == TOTAL
