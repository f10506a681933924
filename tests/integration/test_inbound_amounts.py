"""What the log records for an amount a partner sends (`payment.captured.v1`,
`payment.refunded.v1`) through a real consumer process on the machine's RabbitMQ: exactly the
order's currency's minor-unit digits (EUR "19.90", JPY "1200", KWD "1.250"), the same as an
amount sent through the API, whatever digits the message wrote it with: a payment, a payment
captured after a cancellation, and a refund."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.factories import (
    CancelOrderFactory,
    ConfirmOrderFactory,
    CreateOrderFactory,
    InboundEventFactory,
    LineItemFactory,
)
from tests.support.inbound import (  # noqa: F401 (inbound: fixture)
    consumer,
    events_of,
    inbound,
    payment,
    send,
)
from tests.support.rabbit import amqp_names  # noqa: F401 (fixture)
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# currency, the unit price of the order's one line, how messages write its total and the
# refund, and how the log must record them.
CASES = [
    ("EUR", "19.9", "19.9", "19.90"),
    ("EUR", "52.47", "52.47", "52.47"),
    ("JPY", "1200", "1200", "1200"),
    ("KWD", "1.25", "1.25", "1.250"),
]


def confirmed(currency: str, unit_price: str) -> UUID:
    line = LineItemFactory.build(quantity=1, unit_price=Decimal(unit_price))
    create = CreateOrderFactory.build(currency=currency, items=(line,))
    handle(create)
    handle(ConfirmOrderFactory.build(order_id=create.order_id))
    order_id: UUID = create.order_id
    return order_id


def refunded(order_id: UUID, amount: str, currency: str) -> dict[str, Any]:
    body = {"order_id": str(order_id), "refund_id": f"rf-{order_id}", "amount": amount, "currency": currency}
    event: dict[str, Any] = InboundEventFactory.build(type="payment.refunded.v1", source="/billing", data=body)
    return event


def amount_of(event_type: str, order_id: UUID) -> Any:
    (event,) = events_of(event_type, order_id)
    return event.data["amount"]


def test_amounts_from_partners_are_recorded_with_their_currencys_digits(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    paid = {case: confirmed(case[0], case[1]) for case in CASES}
    late = {case: confirmed(case[0], case[1]) for case in CASES}
    for order_id in late.values():
        handle(CancelOrderFactory.build(order_id=order_id))
    process = consumer(tmp_path, inbound)
    process.start()
    try:
        payments = [payment(paid[case], Decimal(case[2]), data={"currency": case[0]}) for case in CASES]
        payments += [payment(late[case], Decimal(case[2]), data={"currency": case[0]}) for case in CASES]
        send(*payments)
        eventually(lambda: all(events_of("OrderPaid", order) for order in paid.values()), log=process.log)
        for order_id in paid.values():
            handle(CancelOrderFactory.build(order_id=order_id))
        send(*(refunded(paid[case], case[2], case[0]) for case in CASES))
        eventually(lambda: all(events_of("RefundPaid", order) for order in paid.values()), log=process.log)
        eventually(
            lambda: all(events_of("PaymentCapturedAfterCancellation", order) for order in late.values()),
            log=process.log,
        )
    finally:
        process.stop()
    for case in CASES:
        recorded = case[3]
        assert amount_of("OrderPaid", paid[case]) == recorded, case
        assert amount_of("RefundOwed", paid[case]) == recorded, case
        assert amount_of("RefundPaid", paid[case]) == recorded, case
        assert amount_of("PaymentCapturedAfterCancellation", late[case]) == recorded, case
