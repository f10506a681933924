"""How far the read models are behind the event log: status pages and read-your-writes."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connections
from django.db.models import Count, Max, Min
from django.utils import timezone

from eventlog.models import StoredEvent
from eventlog.store import EventStore, event_store
from projector.loop import all_partitions, read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import buckets_of, partition_of_bucket
from projector.registry import all_projections


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectionStatus:
    """One projection's progress."""

    name: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    retrying: int
    parked: int
    held: int
    partitions: dict[int, int]


def _checkpoints() -> dict[tuple[str, int], int]:
    rows = ProjectionCheckpoint.objects.using(read_database()).values_list("projection", "partition", "position")
    return {(name, partition): position for name, partition, position in rows}


def projection_status() -> list[ProjectionStatus]:
    """Position, head, lag and dead letters of every projection."""
    store = event_store()
    head = store.head_position()
    checkpoints = _checkpoints()
    letters = DeadLetter.objects.using(read_database()).values_list("projection", "status").annotate(count=Count("id"))
    counts = {(name, status): count for name, status, count in letters}
    now = timezone.now()
    statuses = []
    for name in all_projections():
        positions = {partition: checkpoints.get((name, partition), 0) for partition in all_partitions()}
        lag_events = 0
        oldest: datetime | None = None
        for partition, position in positions.items():
            behind = StoredEvent.objects.using(store.using).filter(
                position__gt=position, bucket__in=buckets_of(partition)
            )
            aggregate = behind.aggregate(count=Count("position"), oldest=Min("recorded_at"))
            lag_events += aggregate["count"]
            if aggregate["oldest"] is not None and (oldest is None or aggregate["oldest"] < oldest):
                oldest = aggregate["oldest"]
        statuses.append(
            ProjectionStatus(
                name=name,
                position=min(positions.values()) if lag_events else head,
                head=head,
                lag_events=lag_events,
                lag_seconds=(now - oldest).total_seconds() if oldest else 0.0,
                retrying=counts.get((name, DeadLetter.Status.RETRYING), 0),
                parked=counts.get((name, DeadLetter.Status.PARKED), 0),
                held=counts.get((name, DeadLetter.Status.HELD), 0),
                partitions=positions,
            )
        )
    return statuses


def oldest_unapplied() -> dict[str, datetime | None]:
    """Per projection, when its oldest unapplied event was recorded (None: caught up).

    The cheap question a readiness probe asks: one small query per projection that walks
    the log by position from its lowest checkpoint and stops at the first event a partition
    still owes (a partition is `bucket % PROJECTION_PARTITIONS`, projector/partitions.py),
    instead of counting every event behind as projection_status does.
    """
    store = event_store()
    checkpoints = _checkpoints()
    partitions = list(all_partitions())
    owed_after = " ".join("WHEN %s THEN %s" for _ in partitions)
    sql = (
        f"SELECT recorded_at FROM {StoredEvent._meta.db_table} WHERE position > %s"
        f" AND position > (CASE bucket %% %s {owed_after} END) ORDER BY position LIMIT 1"
    )
    oldest: dict[str, datetime | None] = {}
    with connections[store.using].cursor() as cursor:
        for name in all_projections():
            positions = [checkpoints.get((name, partition), 0) for partition in partitions]
            cases = [
                value
                for partition, position in zip(partitions, positions, strict=True)
                for value in (partition, position)
            ]
            cursor.execute(sql, [min(positions), len(partitions), *cases])
            row = cursor.fetchone()
            oldest[name] = _aware(row[0]) if row else None
    return oldest


def _aware(value: datetime | str) -> datetime:
    """A timestamp from a raw query: SQLite hands back text, PostgreSQL an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def applied_through(position: int) -> bool:
    """True once every projection has applied every event at or below `position`."""
    return wait_until_applied(position, 0.0)


def wait_until_applied(
    position: int, timeout: float, poll: float = 0.01, *, slot: AbstractContextManager[bool] | None = None
) -> bool:
    """Wait (bounded) for the read models to reach `position`; False if they did not.

    A position past the log's head answers False at once: no committed event has it, so
    no wait can reach it (positions come from commands that already committed). `slot`
    (a wait slot, readmodels.wait_slots) is entered only if there is something to wait for;
    when it yields False the answer is the first check's, without waiting.

    One statement when the read models are there already (the checkpoints); otherwise the
    head and what each partition owes are read once, since every event at or below a
    committed position is committed (appends are serialized), and each poll reads the
    checkpoints alone.
    """
    names = list(all_projections())
    checkpoints = _checkpoints()
    lowest = _lowest(checkpoints, names)
    if lowest >= position:
        return True
    store = event_store()
    if position > store.head_position():
        return False  # not committed yet (or never will be): nothing can have applied it
    owed = _owed(store, lowest, position)
    if _reached(checkpoints, names, owed):
        return True
    with slot or nullcontext(True) as granted:
        deadline = time.monotonic() + (timeout if granted else 0.0)
        while time.monotonic() < deadline:
            time.sleep(poll)
            checkpoints = _checkpoints()
            if _lowest(checkpoints, names) < lowest:  # moved back (a rebuild): owed again from there
                lowest = _lowest(checkpoints, names)
                owed = _owed(store, lowest, position)
            if _reached(checkpoints, names, owed):
                return True
    return False


def _lowest(checkpoints: dict[tuple[str, int], int], names: list[str]) -> int:
    return min((checkpoints.get((name, p), 0) for name in names for p in all_partitions()), default=0)


def _owed(store: EventStore, lowest: int, position: int) -> dict[int, int]:
    """Per partition, its last event in (lowest, position]: a partition with none there is
    caught up for this purpose even if its checkpoint has not moved."""
    last_per_bucket = (
        StoredEvent.objects.using(store.using)
        .filter(position__gt=lowest, position__lte=position)
        .values_list("bucket")
        .annotate(last=Max("position"))
    )
    owed: dict[int, int] = {}
    for bucket, last in last_per_bucket:
        partition = partition_of_bucket(bucket)
        owed[partition] = max(owed.get(partition, 0), last)
    return owed


def _reached(checkpoints: dict[tuple[str, int], int], names: list[str], owed: dict[int, int]) -> bool:
    return all(checkpoints.get((name, p), 0) >= last for name in names for p, last in owed.items())
