"""Property-based: whatever valid and invalid commands arrive, the log tells the same story."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog.serialization import from_data, to_data
from kernel.errors import DomainError
from orders.commands import LineItem
from orders.domain import Order
from orders.events import RefundOwed, ReturnedLine
from orders.state import OrderState, evolve_order

skus = st.sampled_from(["A", "B", "C", "D", ""])
prices = st.sampled_from([Decimal("1.00"), Decimal("9.99"), Decimal("0.005"), Decimal("-1"), Decimal("250.50")])
quantities = st.integers(min_value=-2, max_value=10_002)

actions = st.one_of(
    st.tuples(st.just("add"), skus, quantities, prices),
    st.tuples(st.just("remove"), skus),
    st.tuples(st.just("confirm")),
    st.tuples(st.just("pay"), st.sampled_from(["exact", "wrong"])),
    st.tuples(st.just("ship"), st.sampled_from(["TRK-1", ""])),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("cancel"), st.sampled_from(["reason", ""])),
    st.tuples(st.just("return"), skus, st.integers(min_value=0, max_value=6)),
    st.tuples(st.just("refund"), st.sampled_from(["rf-1", "rf-2"]), prices),
)


def perform(order: Order, action: tuple[Any, ...]) -> None:
    match action:
        case ("add", sku, quantity, price):
            order.add_item(sku, quantity, price)
        case ("remove", sku):
            order.remove_item(sku)
        case ("confirm",):
            order.confirm()
        case ("pay", how):
            amount = order.state.total.amount
            order.pay("pay-1", amount if how == "exact" else amount + Decimal("0.01"))
        case ("ship", tracking):
            order.ship(tracking)
        case ("deliver",):
            order.deliver()
        case ("cancel", reason):
            order.cancel(reason)
        case ("return", sku, quantity):
            order.take_back([ReturnedLine(sku=sku, quantity=quantity)], "reason", restock=False)
        case ("refund", refund_id, amount):
            order.refund(refund_id, amount)


@settings(max_examples=200, deadline=None)
@given(
    first=st.tuples(
        st.sampled_from(["A", "B"]), st.integers(1, 5), st.sampled_from([Decimal("1.00"), Decimal("9.99")])
    ),
    script=st.lists(actions, max_size=25),
    snapshot_at=st.integers(min_value=1, max_value=26),
)
def test_replay_snapshot_and_rejections(
    first: tuple[str, int, Decimal], script: list[tuple[Any, ...]], snapshot_at: int
) -> None:
    order = Order.create(uuid4(), "c-1", "EUR", [LineItem(sku=first[0], quantity=first[1], unit_price=first[2])])
    log = order.collect_events()
    states = {1: order.state}
    for action in script:
        before_version, before_state = order.version, order.state
        try:
            perform(order, action)
        except DomainError:
            # A rejected command left nothing behind.
            assert order.collect_events() == []
            assert (order.version, order.state) == (before_version, before_state)
            continue
        recorded = order.collect_events()
        if not recorded:  # only a payment or refund the order holds already is accepted and changes nothing
            assert action[0] in ("pay", "refund")
            assert before_state.has_payment("pay-1") or action[1] in before_state.refund_ids
            assert (order.version, order.state) == (before_version, before_state)
            continue
        # Money owed is a fact of its own after the cancellation of a paid order or a return.
        owing = action[0] == "return" or (action[0] == "cancel" and before_state.amount_paid > 0)
        assert [type(event) for event in recorded[1:]] == ([RefundOwed] if owing else [])
        state = before_state
        for version, event in enumerate(recorded, start=before_version + 1):
            state = evolve_order(state, event)
            states[version] = state
        log.extend(recorded)
        # What is owed never goes below zero, and never above what was paid.
        assert Decimal(0) <= order.state.refund_due <= order.state.amount_paid - order.state.refunded

    # Replaying the log gives the live aggregate.
    replayed = Order.replay(order.id, log)
    assert (replayed.state, replayed.version) == (order.state, order.version)

    # A snapshot at any version, through its stored form, plus the tail gives the same.
    at = min(snapshot_at, len(log))
    snapshot = from_data(to_data(states[at]), OrderState)
    resumed = Order.replay(order.id, log[at:], state=snapshot, version=at)
    assert (resumed.state, resumed.version) == (order.state, order.version)
