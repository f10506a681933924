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

Streams go in rounds of WRITE_BATCH: the round's rows, snapshots and manifest rows are read in
one query each (not one per stream: that was half of archiving's time), its segments written,
then flushed to disk together (one wait for the disk, not one per stream), each read back, their
manifest rows recorded, and their rows removed in one transaction (step 4 for the round).
A kill before 3 leaves an unreferenced segment, replaced or reused by the next run; between 3
and 4 a verified row, finished first by the next run; 4 is one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from archive.policy import applied_everywhere, candidates, checkpoints, is_closed
from eventlog import cold, personal
from eventlog.models import ArchivedStream, Snapshot, StoredEvent
from eventlog.recorded import RecordedEvent
from eventlog.store import APPEND_LOCK_KEY, event_store
from orders.domain import Order
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
        done = []
        for stream_id, reason in archive_streams(due[start : start + WRITE_BATCH], step=step, applied=applied).items():
            if reason is None:
                done.append(stream_id)
            else:
                outcome.skipped[stream_id] = reason
        outcome.archived.extend(done)
        # One query per round (not one per stream): the manifest rows say how many events went.
        counted = ArchivedStream.objects.using(database()).filter(stream_id__in=done).aggregate(n=Sum("event_count"))
        outcome.events += int(counted["n"] or 0)
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
    blob: bytes  # the segment's stored bytes (encoded once: checksummed, written, compared)
    name: str
    checksum: str
    recorded: bool  # a verified manifest row for exactly this segment exists (a killed run's)
    events: list[RecordedEvent]  # the segment's events decoded, for the carried rows


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
    prepared, outcome, secrets = _prepare(stream_ids, applied)
    projections = list(all_projections().values())
    for stream_id, ready in prepared.items():
        if not ready.recorded:
            # The rows a rebuild may restore instead of replaying the stream (projector/carried.py),
            # before the segment: every stream archived from here on carries them.
            carried.write(ready.name, carried.carry(ready.segment, ready.events, projections, database(), secrets))
            cold.write(ready.name, ready.blob, synced=False)
            mark("written", stream_id)
    cold.flush([ready.name for ready in prepared.values() if not ready.recorded])
    _verify_and_record(prepared, mark)
    if prepared:
        outcome.update(_remove(list(prepared), mark))
    return outcome


def _prepare(
    stream_ids: list[str], applied: dict[tuple[str, int], int] | None
) -> tuple[dict[str, _Prepared], dict[str, str | None], dict[str, bytes]]:
    """Each stream's segment as the log holds it now, or why it is not archived (None: it is
    already), and the keys its personal data is sealed under. The round's streams are read
    together: their rows, snapshots and manifest rows in one query each, their events decoded
    with one look-up of the keys (the same keys then seal the carried rows)."""
    using = database()
    store = event_store(using)
    stored: dict[str, list[dict[str, Any]]] = {stream_id: [] for stream_id in stream_ids}
    for event in (
        StoredEvent.objects.using(using)
        .filter(stream_id__in=stream_ids)
        .order_by("stream_id", "position")
        .values(*EVENT_FIELDS)
    ):
        stored[event["stream_id"]].append(event)
    snapshots = {
        row.pop("stream_id"): row
        for row in Snapshot.objects.using(using).filter(stream_id__in=stream_ids).values("stream_id", *SNAPSHOT_FIELDS)
    }
    manifests = {row.stream_id: row for row in ArchivedStream.objects.using(using).filter(stream_id__in=stream_ids)}
    wanted = personal.key_ids(event["data"] for events in stored.values() for event in events)
    secrets = store.keys.secrets(wanted) if wanted else {}
    prepared: dict[str, _Prepared] = {}
    outcome: dict[str, str | None] = {}
    for stream_id, events in stored.items():
        if not events:
            outcome[stream_id] = None if store.archived(stream_id) is not None else "no events"
            continue
        if not applied_everywhere(events[-1]["bucket"], events[-1]["position"], applied):
            outcome[stream_id] = "not applied by every projection yet"
            continue
        recorded = store.recorded_events(events, secrets)
        # The order's state folded from all its events (what its snapshot plus the rest give).
        state = Order.replay(stream_id, [event.event for event in recorded]).state
        if not is_closed(state):
            outcome[stream_id] = f"not closed ({state.status}, refund due {state.refund_due})"
            continue
        segment = cold.Segment(
            stream_id=stream_id, stream_type=events[0]["stream_type"], events=events, snapshot=snapshots.get(stream_id)
        )
        name = cold.segment_name(segment.stream_type, stream_id, segment.first_position, segment.last_position)
        blob = cold.encode(segment)
        checksum = cold.checksum(blob)
        manifest = manifests.get(stream_id)
        if manifest is not None and (manifest.segment, manifest.checksum) != (name, checksum):
            manifest.delete()  # verified for events the stream has since moved past
            manifest = None
        prepared[stream_id] = _Prepared(
            segment=segment, blob=blob, name=name, checksum=checksum, recorded=manifest is not None, events=recorded
        )
    return prepared, outcome, secrets


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
