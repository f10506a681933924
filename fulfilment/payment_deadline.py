"""The payment deadline's rules, as pure functions: a confirmed order opens one deadline,
its payment or cancellation closes it, and a deadline that falls due while open yields one
command to cancel the unpaid order.

That command's id is derived from the deadline (one per order, since an order is confirmed
once), so a retried, duplicated or concurrent expiry is answered from the bus's command
record instead of cancelling twice. It is `CancelUnpaidOrder`, which the order refuses once
paid: a payment that commits between reading the deadline and cancelling wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from orders.commands import CancelUnpaidOrder
from orders.events import OrderCancelled, OrderConfirmed, OrderEvent, OrderPaid
from writeside.commands import CommandMetadata

SOURCE = "payment-deadline"
REASON = "payment deadline passed"
# Not PaymentCapturedAfterCancellation: the cancellation closed the deadline, and a payment
# that came too late neither pays nor reopens it.
FOLLOWS = (OrderConfirmed, OrderPaid, OrderCancelled)


class DeadlineStatus(StrEnum):
    """Open until the order is paid or cancelled, whoever cancels it."""

    OPEN = "OPEN"
    PAID = "PAID"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, kw_only=True)
class PaymentDeadline:
    """One confirmed order's deadline; `version` is the last order event it followed."""

    order_id: UUID
    correlation_id: UUID
    opened_by: UUID  # the OrderConfirmed event
    due_at: datetime
    status: DeadlineStatus
    version: int


@dataclass(frozen=True, kw_only=True)
class Followed:
    """One order event as the deadline sees it: what happened, when, and where in the stream."""

    event: OrderEvent
    event_id: UUID
    version: int
    recorded_at: datetime
    correlation_id: UUID


def follow(deadline: PaymentDeadline | None, seen: Followed, allowed: timedelta) -> PaymentDeadline | None:
    """The deadline after one order event; an event it has followed already changes nothing."""
    if deadline is not None and seen.version <= deadline.version:
        return deadline
    match seen.event:
        case OrderConfirmed() if deadline is None:
            return PaymentDeadline(
                order_id=seen.event.order_id,
                correlation_id=seen.correlation_id,
                opened_by=seen.event_id,
                due_at=seen.recorded_at + allowed,
                status=DeadlineStatus.OPEN,
                version=seen.version,
            )
        case OrderPaid() | OrderCancelled() if deadline is not None:
            closed = DeadlineStatus.PAID if isinstance(seen.event, OrderPaid) else DeadlineStatus.CANCELLED
            status = closed if deadline.status is DeadlineStatus.OPEN else deadline.status
            return replace(deadline, status=status, version=seen.version)
        case _:
            return deadline


def expiry(deadline: PaymentDeadline) -> CancelUnpaidOrder:
    """The one command a passed deadline sends, the same however often it is asked for."""
    return CancelUnpaidOrder(
        command_id=f"{SOURCE}:{deadline.order_id}",
        metadata=CommandMetadata(
            correlation_id=deadline.correlation_id, causation_id=deadline.opened_by, source=SOURCE
        ),
        order_id=deadline.order_id,
        reason=REASON,
    )
