"""Running projections over the event log, exactly once in effect.

For one (projection, partition) the projector, in one read-database transaction:
locks the checkpoint row (serializing workers of that partition), reads the next batch
after the checkpoint up to the head it saw (gap-safe, see eventlog.store), applies it,
and moves the checkpoint. A crash rolls all of it back; a repeated run finds nothing new.

A batch that raises is re-run one event at a time in savepoints: the failing event
becomes a dead letter, later events of its stream are held behind it (per-stream order),
and every other stream moves on.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from eventlog.store import EventStore, RecordedEvent, bucket_of, event_store
from monitoring.logs import events_fields
from readmodels.models import DeadLetter, ProjectionCheckpoint
from readmodels.partitions import buckets_of, partition_count, partition_of_bucket
from readmodels.projections.base import Projection

logger = logging.getLogger(__name__)

BLOCKING = (DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED, DeadLetter.Status.HELD)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did."""

    applied: int
    failed: int
    position: int
    more: bool


def read_database() -> str:
    """The alias read models and checkpoints live on."""
    return str(settings.READMODELS_DATABASE)


def lock_checkpoint(projection: str, partition: int, using: str) -> ProjectionCheckpoint:
    """The checkpoint row, locked FOR UPDATE until the surrounding transaction ends."""
    ProjectionCheckpoint.objects.using(using).get_or_create(projection=projection, partition=partition)
    return ProjectionCheckpoint.objects.using(using).select_for_update().get(projection=projection, partition=partition)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter before the next automatic attempt."""
    base = float(settings.PROJECTION_RETRY_BASE_SECONDS) * 2 ** (attempts - 1)
    return timedelta(seconds=base * random.uniform(0.5, 1.5))


class Projector:
    """Feeds one projection from the event log."""

    def __init__(self, projection: Projection, store: EventStore | None = None) -> None:
        self.projection = projection
        self.store = store or event_store()
        self.using = read_database()
        # Re-raised, never dead-lettered: the batch is retried whole later.
        self.transient: tuple[type[Exception], ...] = (OperationalError, *projection.transient_errors)

    # Live catch-up -------------------------------------------------------------------

    def catch_up(self, partition: int, *, max_batches: int | None = None) -> BatchResult:
        """Apply batches until the partition is at the head (or `max_batches` ran)."""
        result = BatchResult(0, 0, 0, more=True)
        done = 0
        applied = failed = 0
        while result.more and (max_batches is None or done < max_batches):
            result = self.run_batch(partition)
            applied, failed, done = applied + result.applied, failed + result.failed, done + 1
        return BatchResult(applied, failed, result.position, result.more)

    def run_batch(self, partition: int) -> BatchResult:
        """One batch of one partition in one transaction with its checkpoint."""
        try:
            return self._run(partition, isolate_failures=False)
        except self.transient:
            raise  # the database is unavailable or a deadlock: the caller retries the batch
        except Exception:
            logger.warning("Batch of %s[%d] failed; isolating the event", self.projection.name, partition)
        return self._run(partition, isolate_failures=True)

    def _run(self, partition: int, *, isolate_failures: bool) -> BatchResult:
        size = int(settings.PROJECTION_BATCH_SIZE)
        with transaction.atomic(using=self.using):
            checkpoint = lock_checkpoint(self.projection.name, partition, self.using)
            # Read the head first: everything at or below it is committed (appends are
            # serialized), so the checkpoint may move to it even if no event was ours.
            head = self.store.head_position()
            events = self.store.read_all(
                checkpoint.position, limit=size, buckets=buckets_of(partition), to_position=head
            )
            failed = self.apply(events, isolate_failures=isolate_failures)
            more = len(events) == size
            checkpoint.position = events[-1].position if more else max(head, checkpoint.position)
            checkpoint.save(update_fields=["position", "updated_at"])
            return BatchResult(len(events) - failed, failed, checkpoint.position, more)

    def apply(self, events: Sequence[RecordedEvent], *, isolate_failures: bool, blocked: set[str] | None = None) -> int:
        """Apply events in the current transaction, holding those of blocked streams.

        With `isolate_failures`, each event gets a savepoint and a failing one becomes a
        dead letter; without it, an error propagates. Returns the number that failed.
        `blocked` (streams with a dead letter) is looked up unless the caller already did.
        """
        if not events:
            return 0
        logger.info("Applying %d events to %s", len(events), self.projection.name, extra=events_fields(events))
        if blocked is None:
            blocked = set(
                DeadLetter.objects.using(self.using)
                .filter(
                    projection=self.projection.name,
                    stream_id__any={event.stream_id for event in events},
                    status__in=BLOCKING,
                )
                .values_list("stream_id", flat=True)
            )
        blocked = set(blocked)
        if not isolate_failures:
            runnable = [event for event in events if event.stream_id not in blocked]
            self.projection.apply(runnable, self.using)
            self._hold([event for event in events if event.stream_id in blocked])
            return 0
        failed = 0
        for event in events:
            if event.stream_id in blocked:
                self._hold([event])
                continue
            try:
                with transaction.atomic(using=self.using):
                    self.projection.apply([event], self.using)
            except self.transient:
                raise
            except Exception as error:
                failed += 1
                blocked.add(event.stream_id)
                self._record_failure(event, error)
        return failed

    def _hold(self, events: Sequence[RecordedEvent]) -> None:
        DeadLetter.objects.using(self.using).bulk_create(
            [
                DeadLetter(
                    projection=self.projection.name,
                    position=event.position,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    stream_id=event.stream_id,
                    status=DeadLetter.Status.HELD,
                )
                for event in events
            ],
            ignore_conflicts=True,
        )

    def _record_failure(self, event: RecordedEvent, error: Exception, letter: DeadLetter | None = None) -> None:
        letter = letter or DeadLetter(
            projection=self.projection.name,
            position=event.position,
            event_id=event.event_id,
            event_type=event.event_type,
            stream_id=event.stream_id,
        )
        letter.attempts += 1
        letter.error = f"{type(error).__name__}: {error}"
        letter.traceback = "".join(traceback.format_exception(error))
        if letter.attempts >= int(settings.PROJECTION_MAX_ATTEMPTS):
            letter.status, letter.next_attempt_at = DeadLetter.Status.PARKED, None
        else:
            letter.status = DeadLetter.Status.RETRYING
            letter.next_attempt_at = timezone.now() + retry_delay(letter.attempts)
        letter.save(using=self.using)
        logger.error(
            "Projection %s failed on event %s (position %d, attempt %d): %s",
            self.projection.name,
            event.event_id,
            event.position,
            letter.attempts,
            letter.error,
        )

    # Dead letters ----------------------------------------------------------------------

    def retry_stream(self, stream_id: str, *, skip_first: bool = False) -> bool:
        """Re-apply a blocked stream's dead letters in order; True if the stream is unblocked.

        With `skip_first`, the failing event is marked skipped instead of applied.
        """
        partition = partition_of_bucket(bucket_of(stream_id))
        with transaction.atomic(using=self.using):
            lock_checkpoint(self.projection.name, partition, self.using)
            letters = list(
                DeadLetter.objects.using(self.using)
                .select_for_update()
                .filter(projection=self.projection.name, stream_id=stream_id, status__in=BLOCKING)
                .order_by("position")
            )
            if not letters:
                return True
            events = {
                event.position: event
                for event in self.store.read_stream(stream_id)
                if event.position in {letter.position for letter in letters}
            }
            for index, letter in enumerate(letters):
                event = events[letter.position]
                if skip_first and index == 0:
                    letter.status = DeadLetter.Status.SKIPPED
                    letter.save(using=self.using, update_fields=["status", "last_failed_at"])
                    continue
                try:
                    with transaction.atomic(using=self.using):
                        self.projection.apply([event], self.using)
                except self.transient:
                    raise
                except Exception as error:
                    self._record_failure(event, error, letter)
                    return False
                letter.status, letter.next_attempt_at = DeadLetter.Status.RESOLVED, None
                letter.save(using=self.using, update_fields=["status", "next_attempt_at", "last_failed_at"])
        return True

    def retry_due(self) -> int:
        """Automatically retry streams whose failing event's backoff has elapsed."""
        due = (
            DeadLetter.objects.using(self.using)
            .filter(
                projection=self.projection.name,
                status=DeadLetter.Status.RETRYING,
                next_attempt_at__lte=timezone.now(),
            )
            .values_list("stream_id", flat=True)
        )
        return sum(self.retry_stream(stream_id) for stream_id in set(due))


def all_partitions() -> range:
    """Every partition number."""
    return range(partition_count())
