"""The payment deadline's rules with fakes: which events open and close a deadline, the one
command a passed deadline sends, and that sending it twice, or after payment, cancels nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from fulfilment.payment_deadline import (
    REASON,
    DeadlineStatus,
    Followed,
    PaymentDeadline,
    expiry,
    follow,
)
from kernel.errors import InvalidTransition
from orders.commands import CreateOrder
from orders.events import OrderCancelled, OrderConfirmed, OrderEvent, OrderPaid, PaymentCapturedAfterCancellation
from tests.factories import ConfirmOrderFactory, CreateOrderFactory, PayOrderFactory, total_of
from tests.support.fakes import FakeLog, FakeUnitOfWork
from writeside.bus import MessageBus

CONFIRMED_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TWO_DAYS = timedelta(seconds=172_800)
STORY = UUID(int=7)


def seen(event: OrderEvent, version: int, at: datetime = CONFIRMED_AT) -> Followed:
    return Followed(event=event, event_id=UUID(int=version), version=version, recorded_at=at, correlation_id=STORY)


def opened(order_id: UUID) -> PaymentDeadline:
    deadline = follow(None, seen(OrderConfirmed(order_id=order_id), 2), TWO_DAYS)
    assert deadline is not None
    return deadline


def test_confirming_opens_a_deadline_the_allowed_time_after_the_confirmation() -> None:
    order_id = uuid4()
    assert opened(order_id) == PaymentDeadline(
        order_id=order_id,
        correlation_id=STORY,
        opened_by=UUID(int=2),
        due_at=CONFIRMED_AT + TWO_DAYS,
        status=DeadlineStatus.OPEN,
        version=2,
    )


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (lambda order_id: OrderPaid(order_id=order_id, payment_id="p-1", amount=Decimal("1.00")), DeadlineStatus.PAID),
        (lambda order_id: OrderCancelled(order_id=order_id, reason="changed mind"), DeadlineStatus.CANCELLED),
    ],
)
def test_payment_or_cancellation_closes_it(event: object, status: DeadlineStatus) -> None:
    order_id = uuid4()
    closed = follow(opened(order_id), seen(event(order_id), 3), TWO_DAYS)  # type: ignore[operator]
    assert closed is not None
    assert (closed.status, closed.version) == (status, 3)


def test_a_cancellation_after_payment_leaves_it_paid_and_a_replayed_event_changes_nothing() -> None:
    order_id = uuid4()
    payment = OrderPaid(order_id=order_id, payment_id="p", amount=Decimal("1.00"))
    paid = follow(opened(order_id), seen(payment, 3), TWO_DAYS)
    refunded = follow(paid, seen(OrderCancelled(order_id=order_id, reason="refund"), 4), TWO_DAYS)
    assert refunded is not None
    assert refunded.status is DeadlineStatus.PAID
    # A redelivered confirmation (version at or below the one followed) does not reopen it.
    assert follow(refunded, seen(OrderConfirmed(order_id=order_id), 2, CONFIRMED_AT + TWO_DAYS), TWO_DAYS) == refunded


def test_events_of_an_order_never_confirmed_open_nothing() -> None:
    order_id = uuid4()
    assert follow(None, seen(OrderCancelled(order_id=order_id, reason="changed mind"), 2), TWO_DAYS) is None


def test_the_expiry_command_is_derived_from_the_deadline_and_continues_the_orders_story() -> None:
    deadline = opened(uuid4())
    command = expiry(deadline)
    assert command == expiry(deadline)  # asked for twice: the very same command, same id
    assert command.command_id == f"payment-deadline:{deadline.order_id}"
    assert (command.order_id, command.reason) == (deadline.order_id, REASON)
    assert (command.metadata.correlation_id, command.metadata.causation_id) == (STORY, deadline.opened_by)


@pytest.fixture
def confirmed() -> tuple[MessageBus, FakeLog, CreateOrder]:
    log = FakeLog()
    bus = MessageBus(uow_factory=lambda: FakeUnitOfWork(log))
    create = CreateOrderFactory()
    bus.handle(create)
    bus.handle(ConfirmOrderFactory(order_id=create.order_id))
    return bus, log, create


def cancellations(log: FakeLog) -> list[OrderCancelled]:
    return [recorded.event for recorded in log.published if isinstance(recorded.event, OrderCancelled)]


def test_expiring_twice_cancels_once(confirmed: tuple[MessageBus, FakeLog, CreateOrder]) -> None:
    bus, log, create = confirmed
    order_id = create.order_id
    command = expiry(opened(order_id))
    first, again = bus.handle(command), bus.handle(command)
    assert again == first
    assert cancellations(log) == [OrderCancelled(order_id=order_id, reason=REASON, refund_due=Decimal("0.00"))]


def test_a_payment_that_came_first_wins(confirmed: tuple[MessageBus, FakeLog, CreateOrder]) -> None:
    bus, log, create = confirmed
    order_id = create.order_id
    bus.handle(PayOrderFactory(order_id=order_id, amount=total_of(create)))
    with pytest.raises(InvalidTransition):
        bus.handle(expiry(opened(order_id)))
    assert cancellations(log) == []


def test_a_payment_after_the_deadline_cancelled_is_kept_and_the_deadline_stays_cancelled(
    confirmed: tuple[MessageBus, FakeLog, CreateOrder],
) -> None:
    bus, log, create = confirmed
    order_id, total = create.order_id, total_of(create)
    cancelled = bus.handle(expiry(opened(order_id)))
    late = bus.handle(PayOrderFactory(order_id=order_id, amount=total, payment_id="p-late"))
    # The provider sends it again under another message (another command id): owed once.
    assert bus.handle(PayOrderFactory(order_id=order_id, amount=total, payment_id="p-late")) == late
    assert bus.handle(expiry(opened(order_id))) == cancelled  # a replayed expiry cancels nothing more
    stream = [recorded for recorded in log.published if recorded.stream_id == str(order_id)]
    assert [recorded.event_type for recorded in stream] == [
        "OrderCreated",
        "OrderConfirmed",
        "OrderCancelled",
        "PaymentCapturedAfterCancellation",
    ]
    assert stream[-1].event == PaymentCapturedAfterCancellation(order_id=order_id, payment_id="p-late", amount=total)
    deadline = None
    for recorded in stream:
        deadline = follow(deadline, seen(recorded.event, recorded.version), TWO_DAYS)
    assert deadline is not None
    # Closed by the cancellation; the late payment neither pays nor reopens it.
    assert (deadline.status, deadline.version) == (DeadlineStatus.CANCELLED, cancelled.version)
