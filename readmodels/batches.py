"""One batch of the log for several projections of a partition, in one transaction.

Every projection whose checkpoint row is free shares the batch: one lock statement, one
read and decode of the log, one checkpoint update. This is what makes a doorbell cheap
enough to answer at a hundred commits a second (docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from eventlog.store import RecordedEvent, event_store
from readmodels.models import DeadLetter, ProjectionCheckpoint
from readmodels.partitions import buckets_of
from readmodels.projections.base import Projection
from readmodels.projector import BLOCKING, Projector, read_database

logger = logging.getLogger(__name__)


def shared_batch(partition: int, projections: dict[str, Projection], *, isolate: bool) -> tuple[bool, set[str]]:
    """One batch for every projection whose checkpoint is free; (backlog left, skipped names).

    Without `isolate` an error aborts the whole transaction (the caller then retries with
    it); with it, each projection gets a savepoint and a failing one only dead-letters
    its failing event, so the others keep their work.
    """
    using = read_database()
    store = event_store()
    size = int(settings.PROJECTION_BATCH_SIZE)
    with transaction.atomic(using=using):
        checkpoints = {
            row.projection: row
            for row in ProjectionCheckpoint.objects.using(using)
            .select_for_update(skip_locked=True)
            .filter(partition=partition, projection__in=list(projections))
            .order_by("projection")
        }
        skipped = set(projections) - set(checkpoints)
        if not checkpoints:
            return False, skipped
        # The head first: every position at or below it is committed (appends are serialized).
        head = store.head_position()
        start = min(row.position for row in checkpoints.values())
        events = store.read_all(start, limit=size, buckets=buckets_of(partition), to_position=head)
        more = len(events) == size
        end = events[-1].position if more else head
        blocked = _blocked_streams(list(checkpoints), events, using)
        now = timezone.now()  # bulk_update does not run auto_now
        for name, checkpoint in checkpoints.items():
            mine = [event for event in events if event.position > checkpoint.position]
            projector = Projector(projections[name], store)
            if mine and isolate:
                _apply_isolating_failures(projector, mine, blocked.get(name, set()))
            elif mine:
                projector.apply(mine, isolate_failures=False, blocked=blocked.get(name, set()))
            checkpoint.position, checkpoint.updated_at = max(checkpoint.position, end), now
        ProjectionCheckpoint.objects.using(using).bulk_update(list(checkpoints.values()), ["position", "updated_at"])
    return more, skipped


def _blocked_streams(names: list[str], events: Sequence[RecordedEvent], using: str) -> dict[str, set[str]]:
    """Per projection, the batch's streams held behind a dead letter."""
    blocked: dict[str, set[str]] = {}
    if not events:
        return blocked
    rows = DeadLetter.objects.using(using).filter(
        projection__in=names, stream_id__in={event.stream_id for event in events}, status__in=BLOCKING
    )
    for projection, stream_id in rows.values_list("projection", "stream_id"):
        blocked.setdefault(projection, set()).add(stream_id)
    return blocked


def _apply_isolating_failures(projector: Projector, events: list[RecordedEvent], blocked: set[str]) -> None:
    """Apply in a savepoint; if the projection raises, redo it one event at a time so only
    the failing event becomes a dead letter (the other projections keep their work)."""
    try:
        with transaction.atomic(using=projector.using):
            projector.apply(events, isolate_failures=False, blocked=blocked)
    except OperationalError:
        raise
    except Exception:
        logger.warning("Batch of %s failed; isolating the event", projector.projection.name)
        projector.apply(events, isolate_failures=True, blocked=blocked)
