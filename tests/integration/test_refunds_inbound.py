"""Refunds reported by billing (`payment.refunded.v1`) through a real consumer process on the
machine's RabbitMQ: a refund is recorded once however it arrives (redelivered, or recorded
through the API first), and one more than is owed, in another currency or with invalid data
is dead-lettered with a clear reason while the consumer goes on."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from integration.dead_letters import dead_messages
from orders.commands import CancelOrder, PayOrder, RefundOrder
from orders.domain import Order
from tests.factories import InboundEventFactory
from tests.support.inbound import (  # noqa: F401 (inbound: fixture)
    confirmed_order,
    consumer,
    events_of,
    inbound,
    send,
)
from tests.support.rabbit import amqp_names  # noqa: F401 (fixture)
from tests.support.waiting import eventually
from writeside.bus import handle
from writeside.unit_of_work import DjangoUnitOfWork

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REFUNDED = "payment.refunded.v1"


def refunded(order_id: UUID, refund_id: str, amount: Any, **data: Any) -> dict[str, Any]:
    body = {"order_id": str(order_id), "refund_id": refund_id, "amount": str(amount), "currency": "EUR", **data}
    event: dict[str, Any] = InboundEventFactory.build(type=REFUNDED, source="/billing", data=body)
    return event


def cancelled_after_payment() -> tuple[UUID, Decimal]:
    """An order paid, then cancelled: it owes its total back."""
    order_id, total = confirmed_order()
    handle(PayOrder(order_id=order_id, payment_id=f"pay-{order_id}", amount=total))
    handle(CancelOrder(order_id=order_id, reason="customer asked"))
    return order_id, total


def owed(order_id: UUID) -> tuple[Decimal, Decimal]:
    with DjangoUnitOfWork() as uow:
        state = uow.repository(Order).get(order_id).state
    return state.refund_due, state.refunded


def test_refunds_from_billing_apply_once_and_refused_ones_are_dead_lettered(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    order_id, total = cancelled_after_payment()
    # Recorded through the API first (a person at the back office), then reported by billing.
    handle(RefundOrder(order_id=order_id, refund_id="rf-1", amount=Decimal("1.00")))
    twice = refunded(order_id, "rf-2", "2.00")
    refused = {
        "more than due": refunded(order_id, "rf-3", total),
        "wrong currency": refunded(order_id, "rf-4", "1.00", currency="USD"),
        "invalid data": refunded(order_id, "rf-5", "lots"),
        "no refund id": refunded(order_id, "", "1.00"),
        "unknown order": refunded(uuid4(), "rf-6", "1.00"),
    }
    send(refunded(order_id, "rf-1", "1.00"), twice, twice, *refused.values())
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        last = refunded(order_id, "rf-7", "3.00")
        send(last)
        eventually(lambda: len(events_of("RefundPaid", order_id)) == 3, message="the refunds", log=process.log)
        eventually(lambda: len(dead_messages()) == len(refused), message="the refused refunds", log=process.log)
    finally:
        process.stop()
    assert sorted(event.data["refund_id"] for event in events_of("RefundPaid", order_id)) == ["rf-1", "rf-2", "rf-7"]
    assert owed(order_id) == (total - Decimal("6.00"), Decimal("6.00"))
    dead = {message.message_id: message.reason for message in dead_messages()}
    reasons = {name: dead[event["id"]] for name, event in refused.items()}
    assert reasons["more than due"].startswith("BusinessRuleViolated")
    assert "more than" in reasons["more than due"]
    assert reasons["wrong currency"].startswith("BusinessRuleViolated")
    assert "USD" in reasons["wrong currency"]
    assert reasons["invalid data"].startswith("invalid data:")
    assert "amount" in reasons["invalid data"]
    assert "refund_id" in reasons["no refund id"]
    assert reasons["unknown order"].startswith("OrderNotFound")
