"""A refund racing the forgetting of its customer, on PostgreSQL, step by step: the refund
loaded the order while the customer's key existed and commits after the key was deleted.
The refund is recorded all the same (it carries no personal data), and the snapshot it
crosses holds nothing readable and creates no key for the customer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from eventlog.models import Snapshot, SubjectKey
from orders.commands import CancelOrder, ConfirmOrder, PayOrder, RefundOrder
from orders.domain import Order
from tests.support.forgetting import CUSTOMER, EMAIL, NAME, Held, every_second_event, place, race  # noqa: F401 (every_second_event: autouse fixture)
from writeside.bus import handle
from writeside.unit_of_work import DjangoUnitOfWork

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def refund(order: Order, command: RefundOrder) -> None:
    assert order.refund(command.refund_id, command.amount)


def test_a_refund_racing_the_forgetting_is_recorded_and_leaves_nothing_readable() -> None:
    order = place()
    handle(ConfirmOrder(order_id=order))
    handle(PayOrder(order_id=order, payment_id="pay-1", amount=Decimal("9.99")))
    handle(CancelOrder(order_id=order, reason="asked"))  # with its RefundOwed: version 5
    Snapshot.objects.all().delete()  # the next snapshot is the one the refund writes

    race(
        RefundOrder(order_id=order, refund_id="rf-1", amount=Decimal("9.99")),
        Held(refund),
    )

    assert not SubjectKey.objects.filter(subject=CUSTOMER).exists()
    stored = Snapshot.objects.get(stream_id=str(order))
    assert stored.version == 6
    assert EMAIL not in str(stored.state)
    assert NAME not in str(stored.state)
    with DjangoUnitOfWork() as uow:
        state = uow.repository(Order).get(order).state
    assert (state.refund_due, state.refunded, state.refund_ids) == (Decimal("0.00"), Decimal("9.99"), ("rf-1",))
    assert state.customer_email is None
    # The same refund reported again after the forgetting changes nothing.
    again = handle(RefundOrder(order_id=order, refund_id="rf-1", amount=Decimal("9.99")))
    assert again.version == 6
