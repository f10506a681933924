"""The archiver: one stream at a time, its events go to a verified segment, and only then out of
the log; killed at any point and run again, no event is lost or stored twice.

The steps, each safe to repeat and each leaving the stream readable:

1. `written`: the rows the read models carry of the stream (projector/carried.py), then the
   stream's rows (position order) and snapshot, encoded and stored under a name fixed by the
   stream and its positions (the same bytes again on a re-run).
2. `read back`: the stored segment is read from the storage and decoded, its checksums
   checked, and its events compared with the log's rows; any difference stops the stream.
3. `recorded`: the manifest row says `verified`, with the segment's checksum. The events are
   still in the log and served from there.
4. `removed`: one transaction on the log's database, holding the append lock (no command
   appends meanwhile) and the rebuild lock (no rebuild or shadow replay is reading the log),
   checks the stream is still at the manifest's version, deletes its rows (the database lets
   the DELETE through only for rows a verified manifest row covers, eventlog/migrations/0007)
   and its snapshot, and marks the row `archived`. If the stream moved on since step 1 the
   manifest row is dropped instead and the stream stays hot.

Streams go in rounds of WRITE_BATCH: the round's segments are written, then flushed to disk
together (one wait for the disk, not one per stream), each read back, their manifest rows
recorded, and their rows removed in one transaction (step 4 for the round).
A kill before 3 leaves an unreferenced segment, replaced or reused by the next run; between 3
and 4 a verified row, finished first by the next run; 4 is one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Max
from django.utils import timezone

from archive.policy import applied_everywhere, candidates, checkpoints, is_closed
from eventlog import cold
from eventlog.models import ArchivedStream, Snapshot, StoredEvent
from eventlog.store import APPEND_LOCK_KEY, event_store
from orders.repository import EventSourcedOrders
from projector import carried, shadow
from projector.loop import read_database
from projector.registry import all_projections

logger = logging.getLogger(__name__)

STEPS = ("written", "read back", "recorded", "removed")
# Streams whose segments are written, then flushed to disk together, per round.
WRITE_BATCH = 200
EVENT_FIELDS = (
    "position",
    "event_id",
    "stream_id",
    "stream_type",
    "bucket",
    "version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
)
SNAPSHOT_FIELDS = ("stream_type", "version", "state_version", "state")


class SegmentMismatch(Exception):
    """The segment read back differs from the log: nothing is removed."""


@dataclass
class Outcome:
    """What one run did."""

    archived: list[str] = field(default_factory=list)
    events: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def database() -> str:
    """The alias the archiver works on: the log's, reached with the archiver's own role in
    production (docs/operations.md)."""
    return str(settings.ARCHIVE_DATABASE)


def archive_due(
    *, now: datetime | None = None, limit: int | None = None, step: Callable[[str, str], None] | None = None
) -> Outcome:
    """Archive the streams due now (at most `limit`); `step` is called after each step of
    each stream (tests stop the procedure there)."""
    outcome = Outcome()
    # Read once per run: checkpoints only move forward (a rebuild that moves them holds the
    # rebuild lock the removal takes), so an older reading is only more cautious.
    applied = checkpoints()
    due = candidates(database(), now=now, limit=limit, applied=applied)
    for start in range(0, len(due), WRITE_BATCH):
        for stream_id, reason in archive_streams(due[start : start + WRITE_BATCH], step=step, applied=applied).items():
            if reason is None:
                outcome.archived.append(stream_id)
                outcome.events += ArchivedStream.objects.using(database()).get(stream_id=stream_id).event_count
            else:
                outcome.skipped[stream_id] = reason
    return outcome


def archive_stream(
    stream_id: str,
    *,
    step: Callable[[str, str], None] | None = None,
    applied: dict[tuple[str, int], int] | None = None,
) -> str | None:
    """Move one closed stream to cold storage; None when done, else why it stays hot."""
    return archive_streams([stream_id], step=step, applied=applied)[stream_id]


@dataclass(frozen=True)
class _Prepared:
    segment: cold.Segment
    name: str
    checksum: str
    recorded: bool  # a verified manifest row for exactly this segment exists (a killed run's)


def archive_streams(
    stream_ids: list[str],
    *,
    step: Callable[[str, str], None] | None = None,
    applied: dict[tuple[str, int], int] | None = None,
) -> dict[str, str | None]:
    """Move closed streams to cold storage; for each, None when done, else why it stays hot.
    Their segments are written first and flushed to disk together (one wait for the disk
    instead of one per stream), then each is read back, the manifest rows recorded, and the
    streams removed in one transaction."""
    mark = step or (lambda _step, _stream: None)
    outcome: dict[str, str | None] = {}
    prepared: dict[str, _Prepared] = {}
    for stream_id in stream_ids:
        found = _prepare(stream_id, applied)
        if isinstance(found, _Prepared):
            prepared[stream_id] = found
        else:
            outcome[stream_id] = found
    projections = list(all_projections().values())
    for stream_id, ready in prepared.items():
        if not ready.recorded:
            # The rows a rebuild may restore instead of replaying the stream (projector/carried.py),
            # before the segment: every stream archived from here on carries them.
            events = event_store(database()).read_stream(stream_id)
            carried.write(ready.name, carried.carry(ready.segment, events, projections, database()))
            cold.write(ready.name, cold.encode(ready.segment), synced=False)
            mark("written", stream_id)
    cold.flush([ready.name for ready in prepared.values() if not ready.recorded])
    _verify_and_record(prepared, mark)
    if prepared:
        outcome.update(_remove(list(prepared), mark))
    return outcome


def _prepare(stream_id: str, applied: dict[tuple[str, int], int] | None) -> _Prepared | str | None:
    """The stream's segment as the log holds it now, or why it is not archived (None: it is already)."""
    using = database()
    events = list(
        StoredEvent.objects.using(using).filter(stream_id=stream_id).order_by("position").values(*EVENT_FIELDS)
    )
    if not events:
        return None if event_store(using).archived(stream_id) is not None else "no events"
    if not applied_everywhere(events[-1]["bucket"], events[-1]["position"], applied):
        return "not applied by every projection yet"
    state = EventSourcedOrders(event_store(using), int(settings.SNAPSHOT_EVERY)).get(stream_id).state
    if not is_closed(state):
        return f"not closed ({state.status}, refund due {state.refund_due})"
    snapshot = Snapshot.objects.using(using).filter(stream_id=stream_id).values(*SNAPSHOT_FIELDS).first()
    segment = cold.Segment(stream_id=stream_id, stream_type=events[0]["stream_type"], events=events, snapshot=snapshot)
    name = cold.segment_name(segment.stream_type, stream_id, segment.first_position, segment.last_position)
    checksum = cold.checksum(cold.encode(segment))
    manifest = ArchivedStream.objects.using(using).filter(stream_id=stream_id).first()
    if manifest is not None and (manifest.segment, manifest.checksum) != (name, checksum):
        manifest.delete()  # verified for events the stream has since moved past
        manifest = None
    return _Prepared(segment=segment, name=name, checksum=checksum, recorded=manifest is not None)


def _verify_and_record(prepared: dict[str, _Prepared], mark: Callable[[str, str], None]) -> None:
    """Steps 2 and 3 of streams whose segments are stored and flushed: each read back, then
    the new manifest rows in one statement."""
    for stream_id, ready in prepared.items():
        _read_back(ready.name, ready.checksum, ready.segment)
        mark("read back", stream_id)
    now = timezone.now()
    ArchivedStream.objects.using(database()).bulk_create(
        ArchivedStream(
            stream_id=stream_id,
            stream_type=ready.segment.stream_type,
            status=ArchivedStream.Status.VERIFIED,
            segment=ready.name,
            format_version=cold.FORMAT_VERSION,
            checksum=ready.checksum,
            event_count=len(ready.segment.events),
            last_version=ready.segment.last_version,
            first_position=ready.segment.first_position,
            last_position=ready.segment.last_position,
            verified_at=now,
        )
        for stream_id, ready in prepared.items()
        if not ready.recorded
    )
    for stream_id, ready in prepared.items():
        if not ready.recorded:
            mark("recorded", stream_id)


def _read_back(name: str, checksum: str, written: cold.Segment) -> None:
    """Read the stored segment afresh (not from the cache) and compare it with the log."""
    with cold.archive_storage().open(name, "rb") as stored:
        found = cold.decode(stored.read(), checksum)
    if found != written:
        raise SegmentMismatch(f"the segment stored as {name} differs from the log")


def _remove(stream_ids: list[str], mark: Callable[[str, str], None]) -> dict[str, str | None]:
    """Step 4: the streams' rows out of the log, in one transaction holding the rebuild lock
    and the append lock; a stream appended to since its segment was written stays."""
    using = database()
    outcome: dict[str, str | None] = {}
    rebuild_lock = (
        shadow.exclusive(read_database()) if connections[read_database()].vendor == "postgresql" else nullcontext()
    )
    with rebuild_lock, transaction.atomic(using=using):
        if connections[using].vendor == "postgresql":
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])
        manifests = {
            row.stream_id: row
            for row in ArchivedStream.objects.using(using)
            .select_for_update()
            .filter(stream_id__in=stream_ids, status=ArchivedStream.Status.VERIFIED)
        }
        heads = dict(
            StoredEvent.objects.using(using)
            .filter(stream_id__in=list(manifests))
            .values("stream_id")
            .annotate(last=Max("version"))
            .values_list("stream_id", "last")
        )
        moved = [stream for stream, row in manifests.items() if heads.get(stream) != row.last_version]
        ArchivedStream.objects.using(using).filter(stream_id__in=moved).delete()
        outcome.update(dict.fromkeys(moved, "appended to since its segment was written"))
        removed = [stream for stream in manifests if stream not in moved]
        deleted, _ = StoredEvent.objects.using(using).filter(stream_id__in=removed).delete()
        expected = sum(manifests[stream].event_count for stream in removed)
        if deleted != expected:
            raise SegmentMismatch(f"removed {deleted} events, the segments hold {expected}")
        for stream_id in removed:
            mark("deleted", stream_id)
        Snapshot.objects.using(using).filter(stream_id__in=removed).delete()
        ArchivedStream.objects.using(using).filter(stream_id__in=removed).update(
            status=ArchivedStream.Status.ARCHIVED, archived_at=timezone.now()
        )
        outcome.update(dict.fromkeys(removed))
    for stream_id in removed:
        mark("removed", stream_id)
    return outcome
