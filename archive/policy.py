"""Which order streams are due for cold storage, and never one a reader still needs in the log.

A stream is due when the order is closed (DELIVERED, CANCELLED, RETURNED) and owes nothing
(`owes_nothing`: the write side's own state, not a read model), its last event is older than
ARCHIVE_AFTER_DAYS, every projection has applied all of its events (the checkpoint of the
stream's partition is at or past its last position in each, so no live reader ever asks the log for them
again, and removing them can never look like a gap to the engine), and no projection holds a
dead letter of it (a retry re-reads the stream from the log).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from eventlog.models import ArchivedStream, StoredEvent
from orders.domain import Order
from orders.state import OrderState
from projector.loop import read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.registry import all_projections

ORDER_STREAM = Order.stream_type
# What "closed" means: no command of the order's lifecycle moves it on from these (RETURNED
# joins when the order state has it; the names are compared as text so this holds either way).
CLOSED_STATUSES = frozenset({"DELIVERED", "CANCELLED", "RETURNED"})
OPEN_LETTERS = (DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED, DeadLetter.Status.HELD)


def owes_nothing(state: OrderState) -> bool:
    """The hook for money still owed either way: an order with a refund due stays hot."""
    return state.refund_due == 0


def is_closed(state: OrderState) -> bool:
    """Closed for good and owing nothing: what may go to cold storage."""
    return str(state.status) in CLOSED_STATUSES and owes_nothing(state)


def checkpoints() -> dict[tuple[str, int], int]:
    """Each (projection, partition)'s checkpoint; a pair without a row has applied nothing."""
    rows = ProjectionCheckpoint.objects.using(read_database()).values_list("projection", "partition", "position")
    return {(name, partition): position for name, partition, position in rows}


def applied_everywhere(bucket: int, position: int, applied: dict[tuple[str, int], int] | None = None) -> bool:
    """True if every projection has applied the partition of `bucket` through `position`."""
    applied = checkpoints() if applied is None else applied
    partition = partition_of_bucket(bucket)
    return all(applied.get((name, partition), 0) >= position for name in all_projections())


def cutoff(now: datetime | None = None) -> datetime:
    """Streams whose last event is older than this are old enough."""
    return (now or timezone.now()) - timedelta(days=int(settings.ARCHIVE_AFTER_DAYS))


def candidates(
    using: str,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    applied: dict[tuple[str, int], int] | None = None,
) -> list[str]:
    """Order streams old enough and applied everywhere, oldest first: streams a killed run
    left verified come first (they are finished before anything new is started). Whether
    each is closed is checked on its state by the procedure."""
    resumed = list(
        ArchivedStream.objects.using(using)
        .filter(status=ArchivedStream.Status.VERIFIED)
        .order_by("first_position")
        .values_list("stream_id", flat=True)
    )
    applied = checkpoints() if applied is None else applied
    query: Any = (
        StoredEvent.objects.using(using)
        .filter(stream_type=ORDER_STREAM)
        .values("stream_id", "bucket")
        .annotate(last_at=Max("recorded_at"), last=Max("position"), first=Min("position"))
        .filter(last_at__lt=cutoff(now))
        .order_by("first")
        .values_list("stream_id", "bucket", "last")
    )
    skip = set(resumed)
    due = [
        stream for stream, bucket, last in query if stream not in skip and applied_everywhere(bucket, last, applied)
    ][:limit]
    held = set(
        DeadLetter.objects.using(read_database())
        .filter(stream_id__in=due, status__in=OPEN_LETTERS)
        .values_list("stream_id", flat=True)
    )
    return [*resumed, *(stream for stream in due if stream not in held)]
