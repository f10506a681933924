"""Payment deadlines, durably: a projection keeps one row per confirmed order (opened by
OrderConfirmed, closed by OrderPaid or OrderCancelled) in the same transaction as its
checkpoint, and beat's `expire_due` sends CancelUnpaidOrder for every open row that is due.

Nothing lives in memory: a deadline is a row, so a restart of web, worker or beat loses
none, and a late beat only cancels late. Expiring is idempotent (the command id is derived
from the deadline), so two beats, a redelivered task or a crash between sending and the
row closing cancel the order once; the row closes when the projection sees the
OrderCancelled, as for any other cancellation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db.models.functions import Now

from eventlog.recorded import RecordedEvent
from fulfilment import models
from fulfilment.manager import correlation_of
from fulfilment.payment_deadline import FOLLOWS, DeadlineStatus, Followed, PaymentDeadline, expiry, follow
from kernel.errors import ConcurrencyConflict, InvalidTransition
from projector.bulk import copy_rows, upsert_rows
from projector.carried import typed_row
from projector.loop import read_database
from projector.projection import Projection, Sealer
from writeside import bus
from writeside.commands import Command
from writeside.unit_of_work import CommandResult

logger = logging.getLogger(__name__)


def _load(row: models.PaymentDeadline) -> PaymentDeadline:
    return PaymentDeadline(
        order_id=row.order_id,
        correlation_id=row.correlation_id,
        opened_by=row.opened_by,
        due_at=row.due_at,
        status=DeadlineStatus(row.status),
        version=row.version,
    )


def _row(deadline: PaymentDeadline) -> dict[str, Any]:
    return {
        "order_id": deadline.order_id,
        "correlation_id": deadline.correlation_id,
        "opened_by": deadline.opened_by,
        "due_at": deadline.due_at,
        "status": deadline.status.value,
        "version": deadline.version,
    }


def _followed(event: RecordedEvent) -> Followed:
    return Followed(
        event=event.event,
        event_id=event.event_id,
        version=event.version,
        recorded_at=event.recorded_at,
        correlation_id=correlation_of(event),
    )


class PaymentDeadlines(Projection):
    """Follows each confirmed order until it is paid or cancelled. Its rows are a pure fold of
    the log, so unlike the fulfilment process it may be rebuilt: the commands are sent by beat."""

    name: ClassVar[str] = "payment_deadlines"
    tables: ClassVar[tuple[Any, ...]] = (models.PaymentDeadline,)

    # Carried: each archived order's deadline row as its events leave it (projector/carried.py).
    carry_version: ClassVar[int | None] = 1

    def carried_format(self) -> str | None:
        """The base's, and the time allowed the carried deadlines were opened with."""
        return f"{super().carried_format()}/allowed-{settings.PAYMENT_DEADLINE_SECONDS}"

    def carry(self, events: Sequence[RecordedEvent], seal: Sealer) -> Any:
        """The order's deadline row after all its events, folded as `apply` folds them."""
        allowed = timedelta(seconds=settings.PAYMENT_DEADLINE_SECONDS)
        deadline: PaymentDeadline | None = None
        for event in events:
            if isinstance(event.event, FOLLOWS):
                deadline = follow(deadline, _followed(event), allowed) or deadline
        return None if deadline is None else _row(deadline)

    def restore_carried(self, carried: Sequence[tuple[str, Any]], using: str) -> None:
        """The carried deadline rows."""
        copy_rows(using, models.PaymentDeadline, [typed_row(models.PaymentDeadline, row) for _, row in carried if row])

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Open, close or skip (already followed) the deadline of each order event, in log order."""
        relevant = [event for event in events if isinstance(event.event, FOLLOWS)]
        if not relevant:
            return
        allowed = timedelta(seconds=settings.PAYMENT_DEADLINE_SECONDS)
        ids = {event.event.order_id for event in relevant}
        stored = models.PaymentDeadline.objects.using(using).in_bulk(ids)
        deadlines = {order_id: _load(row) for order_id, row in stored.items()}
        changed: set[Any] = set()
        for event in relevant:
            order_id = event.event.order_id
            after = follow(deadlines.get(order_id), _followed(event), allowed)
            if after is not None and after != deadlines.get(order_id):
                deadlines[order_id] = after
                changed.add(order_id)
        # One statement with an array per column, as the read models write (bulk_create and
        # bulk_update quoted every value in Python: a sixth of a full rebuild's profile).
        changed_rows = [_row(deadlines[order_id]) for order_id in sorted(changed)]
        upsert_rows(using, models.PaymentDeadline, changed_rows, key="order_id")


def expire_due(
    now: datetime | None = None, send: Callable[[Command], CommandResult] | None = None, limit: int = 500
) -> int:
    """Send CancelUnpaidOrder for up to `limit` open deadlines due by `now` (by default the
    database's now); returns how many were sent. Beat calls it every CATCH_UP_INTERVAL_SECONDS;
    a backlog continues next time.

    A deadline is its event's `recorded_at` (the database's clock) plus the time allowed, so it
    is compared with the database's clock too: a worker whose clock runs ahead would cancel
    orders early, one behind would cancel them late."""
    send = send or bus.handle
    due = (
        models.PaymentDeadline.objects.using(read_database())
        .filter(status=DeadlineStatus.OPEN.value, due_at__lte=Now() if now is None else now)
        .order_by("due_at")[:limit]
    )
    sent = 0
    for row in due:
        try:
            send(expiry(_load(row)))
            sent += 1
        except InvalidTransition as error:
            # Paid (or cancelled) first, and the projection has not closed the row yet: it will.
            logger.info("Payment deadline of %s: nothing to cancel: %s", row.order_id, error)
        except ConcurrencyConflict as error:
            logger.warning("Payment deadline of %s: retried next time: %s", row.order_id, error)
    return sent
