"""Running projections over the event log, exactly once in effect: the one loop.

For one partition and one or more projections (a single projection is a batch of one),
in one read-database transaction: lock the checkpoint rows (serializing the workers of that
partition), read the head, read the log after the lowest checkpoint up to that head
(gap-safe, see eventlog.store), apply to each projection what it has not applied, and move
every checkpoint. A crash rolls all of it back; a repeated run finds nothing new. Sharing
a batch makes a doorbell cheap enough to answer at a hundred commits a second: one lock
statement, one read and decode of the log, one checkpoint update (docs/performance-log.md).

A batch that raises is run again isolating the failure: each projection in a savepoint
(so the others keep their work) and the failing one event by event, so the failing event
becomes a dead letter, later events of its stream are held behind it (per-stream order),
and every other stream moves on. An event an operator skipped stays skipped in every batch
that reaches its position again and fails on it (projector/dead_letters.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from eventlog.buckets import bucket_of
from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore, event_store
from projector.dead_letters import (
    BLOCKING,
    NOTHING_STANDING,
    SkipRefused,
    Standing,
    hold,
    record_failure,
    standing,
)
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import buckets_of, partition_count, partition_of_bucket
from projector.projection import Projection
from telemetry.logs import events_fields

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did, over its projections; `position` is the lowest checkpoint it left,
    `skipped` the projections whose checkpoint row was locked elsewhere or missing."""

    applied: int
    failed: int
    position: int
    more: bool
    skipped: frozenset[str] = field(default=frozenset())


def read_database() -> str:
    """The alias read models and checkpoints live on."""
    return str(settings.READMODELS_DATABASE)


def lock_checkpoint(projection: str, partition: int, using: str) -> ProjectionCheckpoint:
    """The checkpoint row, locked FOR UPDATE until the surrounding transaction ends."""
    ProjectionCheckpoint.objects.using(using).get_or_create(projection=projection, partition=partition)
    return ProjectionCheckpoint.objects.using(using).select_for_update().get(projection=projection, partition=partition)


def run_batch(
    partition: int, projections: Mapping[str, Projection], *, wait: bool, store: EventStore | None = None
) -> BatchResult:
    """One batch of `partition` for `projections`; if it raises (not transiently), again isolating the failure.

    With `wait`, each checkpoint row is created if missing and its lock waited for (a
    rebuild holds it until it commits); without, a projection whose row is locked or
    missing is skipped and named in the result, for the caller to run on its own.
    """
    projectors = {name: Projector(projection, store) for name, projection in projections.items()}
    try:
        return _batch(partition, projectors, wait=wait, isolate=False)
    except tuple(error for projector in projectors.values() for error in projector.transient):
        raise  # the database is unavailable, a deadlock, or a service says "not now": retried whole later
    except Exception:
        logger.warning("Batch of %s[%d] failed; isolating the failure", ", ".join(projections), partition)
    return _batch(partition, projectors, wait=wait, isolate=True)


def _batch(partition: int, projectors: Mapping[str, Projector], *, wait: bool, isolate: bool) -> BatchResult:
    using = read_database()
    store = next(iter(projectors.values())).store
    size = int(settings.PROJECTION_BATCH_SIZE)
    with transaction.atomic(using=using):
        checkpoints = _lock_checkpoints(partition, sorted(projectors), using, wait=wait)
        skipped = set(projectors) - set(checkpoints)
        if len(checkpoints) > 1:
            # One far behind the others (more than a batch: a consumer that never saw a
            # stretch of the log) is caught up on its own by the caller; sharing, it would make
            # everyone's batch start at its checkpoint, and the others' new events wait until
            # it had walked the whole stretch.
            ahead = max(row.position for row in checkpoints.values())
            checkpoints = _leave_out(
                checkpoints, {n for n, row in checkpoints.items() if row.position < ahead - size}, skipped
            )
        if not checkpoints:
            return BatchResult(0, 0, 0, more=False, skipped=frozenset(skipped))
        # The head first: everything at or below it is committed (appends are serialized),
        # so a checkpoint may move to it even if no event was its own.
        head = store.head_position()
        start = min(row.position for row in checkpoints.values())
        # Every checkpoint at the head (a doorbell whose events an earlier task took): no read.
        events = (
            [] if start >= head else store.read_all(start, limit=size, buckets=buckets_of(partition), to_position=head)
        )
        more = len(events) == size
        end = events[-1].position if more else head
        owed = {name: [event for event in events if event.position > row.position] for name, row in checkpoints.items()}
        if len(projectors) > 1:
            # A consumer that must not share this batch (it would write to the log) is left
            # unmoved, for the caller to run on its own.
            alone = {name for name in checkpoints if not projectors[name].projection.can_share(owed[name])}
            checkpoints = _leave_out(checkpoints, alone, skipped)
        letters = standing(checkpoints, events, using)
        applied = failed = 0
        for name in checkpoints:
            mine = owed[name]
            projector, theirs = projectors[name], letters.get(name, NOTHING_STANDING)
            if mine and isolate and len(checkpoints) == 1:
                # The batch failed on this projection alone: straight to one event at a time.
                failures = projector.apply(mine, isolate_failures=True, letters=theirs)
            elif mine and isolate:
                failures = projector.apply_isolating_failures(mine, theirs)
            else:
                failures = projector.apply(mine, isolate_failures=False, letters=theirs)
            applied, failed = applied + len(mine) - failures, failed + failures
        _move_checkpoints(checkpoints, end, using)
    lowest = min((row.position for row in checkpoints.values()), default=0)
    return BatchResult(applied, failed, lowest, more and bool(checkpoints), frozenset(skipped))


def _leave_out(
    checkpoints: Mapping[str, ProjectionCheckpoint], names: set[str], skipped: set[str]
) -> dict[str, ProjectionCheckpoint]:
    """The checkpoints but those of `names`, which join `skipped`: their projections are left
    unmoved by this batch, for the caller to run on their own."""
    skipped |= names
    return {name: row for name, row in checkpoints.items() if name not in names}


def _move_checkpoints(checkpoints: Mapping[str, ProjectionCheckpoint], end: int, using: str) -> None:
    """Move every checkpoint to `end` (one that is past it stays) in one plain UPDATE, not
    bulk_update's CASE per row, whose building cost more than the statement (profiled);
    none if none moves."""
    behind = [row for row in checkpoints.values() if row.position < end]
    if not behind:
        return
    now = timezone.now()  # update() does not run auto_now
    ProjectionCheckpoint.objects.using(using).filter(pk__in=[row.pk for row in checkpoints.values()]).update(
        position=Greatest(F("position"), end), updated_at=now
    )
    for row in checkpoints.values():
        row.position, row.updated_at = max(row.position, end), now


def _lock_checkpoints(partition: int, names: list[str], using: str, *, wait: bool) -> dict[str, ProjectionCheckpoint]:
    """The checkpoint rows of `names` on `partition`, locked in name order (so two batches
    sharing projections never deadlock); with `wait`, missing rows are created and every
    lock is waited for.

    One statement when the rows exist (every batch but a partition's first): the lock is
    taken first and rows are created only if some were missing. Only a batch of one waits
    for its lock with a missing row today (a shadow rebuild creates its rows beforehand), so
    creating after locking cannot break the name order between two batches.
    """
    rows = ProjectionCheckpoint.objects.using(using)
    locked = rows.select_for_update(skip_locked=not wait).filter(partition=partition, projection__in=names)
    found = {row.projection: row for row in locked.order_by("projection")}
    missing = [name for name in names if name not in found]
    if wait and missing:
        rows.bulk_create(
            [ProjectionCheckpoint(projection=name, partition=partition) for name in missing], ignore_conflicts=True
        )
        found = {row.projection: row for row in locked.order_by("projection")}
    return found


class Projector:
    """Feeds one projection from the event log; resolves its dead letters."""

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
        """One batch of one partition in one transaction with its checkpoint: a batch of one."""
        return run_batch(partition, {self.projection.name: self.projection}, wait=True, store=self.store)

    def apply(self, events: Sequence[RecordedEvent], *, isolate_failures: bool, letters: Standing | None = None) -> int:
        """Apply events in the current transaction, holding those of blocked streams.

        With `isolate_failures`, each event gets a savepoint and a failing one becomes a
        dead letter, unless an operator skipped it before: a replay tries a skipped event
        again (a fixed projection applies it) and, if it still fails, leaves it skipped.
        Without it, an error propagates. Returns the number that failed. `letters` (blocked
        streams, skipped positions) is looked up unless the caller did.
        """
        if not events:
            return 0
        name = self.projection.name
        logger.info("Applying %d events to %s", len(events), name, extra=events_fields(events))
        if letters is None:
            letters = standing([name], events, self.using).get(name, NOTHING_STANDING)
        blocked = set(letters.blocked)
        if not isolate_failures:
            self.projection.apply([event for event in events if event.stream_id not in blocked], self.using)
            hold(name, [event for event in events if event.stream_id in blocked], self.using)
            return 0
        failed = 0
        for event in events:
            if event.stream_id in blocked:
                hold(name, [event], self.using)
                continue
            try:
                with transaction.atomic(using=self.using):
                    self.projection.apply([event], self.using)
            except self.transient:
                raise
            except Exception as error:
                if event.position in letters.skipped:
                    # The operator's decision stands for every replay: no new letter, and
                    # the stream is not held.
                    logger.warning("%s: skipped event %s fails again (%s); stays skipped", name, event.event_id, error)
                    continue
                failed += 1
                blocked.add(event.stream_id)
                record_failure(name, event, error, self.using)
        return failed

    def apply_isolating_failures(self, events: Sequence[RecordedEvent], letters: Standing | None = None) -> int:
        """Apply in a savepoint; if the projection raises, redo it one event at a time so only
        the failing event becomes a dead letter (work of other projections in the same
        transaction is kept). Returns the number of events that failed."""
        try:
            with transaction.atomic(using=self.using):
                return self.apply(events, isolate_failures=False, letters=letters)
        except self.transient:
            raise
        except Exception:
            logger.warning("Batch of %s failed; isolating the event", self.projection.name)
        return self.apply(events, isolate_failures=True, letters=letters)

    # Dead letters ----------------------------------------------------------------------

    def retry_stream(self, stream_id: str, *, skip_first: bool = False) -> bool:
        """Re-apply a blocked stream's dead letters in order; True if the stream is unblocked.

        With `skip_first`, the failing event is marked skipped instead of applied (a later
        replay tries it again and, if it still fails, leaves it skipped); SkipRefused,
        changing nothing, if the projection must apply events of its type
        (`Projection.never_skipped`).
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
            if skip_first and letters[0].event_type in self.projection.never_skipped:
                first = letters[0]
                raise SkipRefused(
                    f"{self.projection.name} may not skip {first.event_type} at position {first.position}: it must"
                    f" apply every {first.event_type}, or what the event does stays undone. Fix the cause, then"
                    " retry it."
                )
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
                    record_failure(self.projection.name, event, error, self.using, letter)
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
