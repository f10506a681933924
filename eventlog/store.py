"""The event store: append with optimistic concurrency, read streams and the global log.

One implementation per database, each kept by the same contract suite
(tests/integration/test_event_log_contract.py): this portable one (the ORM) on SQLite, the
embedded default, and PostgresEventStore (eventlog/postgres.py) on PostgreSQL; the settings
name which (`event_store`).

Gap safety (see docs/architecture.md): global positions become visible in increasing order,
so a subscriber that has seen position N can never later find a committed event below N, and
a plain `position > checkpoint` read is safe. On PostgreSQL every append takes one
transaction-level advisory lock with its INSERT and holds it to commit; on SQLite a write
transaction holds the database's one write lock from BEGIN (IMMEDIATE, config/settings.py)
to commit, which serializes appends just the same.

Personal data: events are sealed on the way in and unsealed on the way out here
(eventlog/personal.py), so no caller ever stores it in the clear; `RecordedEvent.data` and
`.event` hold the personal values in the clear while their subject's key exists, None once
it is gone. The store's parts elsewhere: what a reader gets and the one place it is built
(eventlog/recorded.py), a stream's bucket (eventlog/buckets.py), and the write side's load of
a stream with its snapshot (eventlog/loading.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.db import IntegrityError, connections
from django.utils import timezone

from eventlog import cold
from eventlog.buckets import BUCKETS, bucket_of
from eventlog.keys import SubjectKeys
from eventlog.loading import StreamLoading
from eventlog.models import CORRELATION, ArchivedStream, StoredEvent
from eventlog.named import named
from eventlog.personal import key_ids, seal
from eventlog.recorded import COLUMNS, RecordedEvent, recorded
from eventlog.records import CommandEntry, append_outcome, insert_record
from eventlog.serialization import EventRegistry, registry

# pg_advisory_xact_lock key for appends on PostgreSQL (eventlog/postgres.py); any constant that
# nothing else in the database uses.
APPEND_LOCK_KEY = 0x4556_4C4F_4731  # "EVLOG1"


class StreamVersionConflict(Exception):
    """Another writer appended the version this append expected to write."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"Stream {stream_id} moved past version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


class EventStore(StreamLoading):
    """Reads and appends events on one database alias, through the ORM: the implementation
    for SQLite, and the base of PostgreSQL's (which replaces the hot calls with SQL)."""

    def __init__(self, using: str | None = None, events: EventRegistry = registry) -> None:
        self.using = using or settings.EVENTLOG_DATABASE
        self.registry = events
        self.keys = SubjectKeys(self.using)

    def _objects(self) -> Any:
        return StoredEvent.objects.using(self.using)

    def _encode(self, events: Sequence[Any]) -> list[tuple[str, int, dict[str, Any], dict[str, Any]]]:
        """(event_type, schema_version, data, data to store: its personal values sealed) of
        each event."""
        encoded = []
        for event in events:
            event_type, schema_version, data = self.registry.encode(event)
            encoded.append((event_type, schema_version, data, seal(type(event), data, self.keys)))
        return encoded

    def _recorded_all(
        self, rows: Iterable[Sequence[Any]], secrets: Mapping[str, bytes] | None = None
    ) -> list[RecordedEvent]:
        """RecordedEvents of a batch of rows, with one look-up of the keys the batch needs
        (none if the caller looked them up with its read)."""
        batch = list(rows)
        if secrets is None:
            wanted = key_ids(row[9] for row in batch)
            secrets = self.keys.secrets(wanted) if wanted else {}
        return [recorded(row, self.registry, secrets=secrets) for row in batch]

    def recorded_events(
        self, stored: Iterable[Mapping[str, Any]], secrets: Mapping[str, bytes] | None = None
    ) -> list[RecordedEvent]:
        """RecordedEvents of stored events as dicts of StoredEvent's columns (a segment's, or
        the archiver's read of the log), data unsealed with `secrets` or with keys looked up once."""
        return self._recorded_all((tuple(event[column] for column in COLUMNS) for event in stored), secrets)

    def append(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Iterable[Any],
        metadata: dict[str, Any] | None = None,
        *,
        command: CommandEntry | None = None,
    ) -> list[RecordedEvent]:
        """Append events after `expected_version`; must run inside a transaction. With
        `command`, its record (the append's outcome as result) is written with them.

        Raises StreamVersionConflict if another writer got there first, DuplicateCommand if
        the command id has a record already; the caller's transaction is then unusable and
        must be rolled back.
        """
        connection = connections[self.using]
        if not connection.in_atomic_block:
            raise RuntimeError("EventStore.append must run inside transaction.atomic")
        events = list(events)
        encoded = self._encode(events)
        if not encoded:
            return []
        # Taken inside the write transaction (SQLite's one write lock is held from BEGIN), so
        # recorded_at grows with position.
        now = timezone.now()
        bucket = bucket_of(stream_id)
        rows = [
            StoredEvent(
                event_id=uuid4(),
                stream_id=stream_id,
                stream_type=stream_type,
                bucket=bucket,
                version=expected_version + offset,
                event_type=event_type,
                schema_version=schema_version,
                data=sealed,
                metadata=metadata or {},
                recorded_at=now,
            )
            for offset, (event_type, schema_version, _data, sealed) in enumerate(encoded, start=1)
        ]
        try:
            self._objects().bulk_create(rows)
        except IntegrityError as error:
            raise StreamVersionConflict(stream_id, expected_version) from error
        if command is not None:
            outcome = append_outcome(stream_id, rows[-1].version, rows[-1].position)
            insert_record(self.using, command.command_id, command.command_type, command.fingerprint, outcome)
        return [
            recorded(
                (
                    row.position,
                    row.event_id,
                    stream_id,
                    stream_type,
                    row.version,
                    row.event_type,
                    row.schema_version,
                    now,
                    row.metadata,
                    data,
                ),
                self.registry,
                event,
            )
            for row, event, (_type, _version, data, _sealed) in zip(rows, events, encoded, strict=True)
        ]

    def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """A stream's events in version order, optionally a slice (at most `limit` of them)
        or as of an instant."""
        query = self._objects().filter(stream_id=stream_id, version__gt=after_version)
        if to_version is not None:
            query = query.filter(version__lte=to_version)
        if until is not None:
            query = query.filter(recorded_at__lte=until)
        events = self._recorded_all(query.order_by("version").values_list(*COLUMNS)[:limit])
        return events or self.read_archived_stream(
            stream_id, after_version=after_version, to_version=to_version, until=until, limit=limit
        )

    def archived(self, stream_id: str) -> ArchivedStream | None:
        """The manifest row of a stream whose events are only in cold storage (eventlog/cold.py)."""
        found: ArchivedStream | None = (
            ArchivedStream.objects.using(self.using)
            .filter(stream_id=stream_id, status=ArchivedStream.Status.ARCHIVED)
            .first()
        )
        return found

    def is_archived(self, stream_id: str) -> bool:
        """Whether the stream's events are only in cold storage (`archived`); a store that read
        the manifest with the stream's load answers without asking again."""
        return self.archived(stream_id) is not None

    def read_archived_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """read_stream of an archived stream, from its segment (none if it is not archived).
        Asked only when the log has no event of the slice, so the hot path pays nothing."""
        manifest = self.archived(stream_id)
        if manifest is None:
            return []
        segment = cold.read(manifest.segment, manifest.checksum)
        wanted = [
            event
            for event in segment.events
            if event["version"] > after_version
            and (to_version is None or event["version"] <= to_version)
            and (until is None or event["recorded_at"] <= until)
        ][:limit]
        return self.recorded_events(wanted)

    def read_all(
        self,
        after_position: int = 0,
        *,
        limit: int = 1000,
        buckets: Sequence[int] | None = None,
        to_position: int | None = None,
    ) -> list[RecordedEvent]:
        """Up to `limit` events after a global position, in position order (gap-safe)."""
        query = self._objects().filter(position__gt=after_position)
        if buckets is not None and len(buckets) < BUCKETS:
            query = query.filter(bucket__in=list(buckets))
        if to_position is not None:
            query = query.filter(position__lte=to_position)
        return self._recorded_all(query.order_by("position").values_list(*COLUMNS)[:limit])

    def head_position(self) -> int:
        """The highest committed global position (0 for an empty log)."""
        last = self._objects().order_by("-position").values_list("position", flat=True).first()
        return int(last or 0)

    def stream_version(self, stream_id: str) -> int:
        """The current version of a stream (0 if it has no events)."""
        last = (
            self._objects().filter(stream_id=stream_id).order_by("-version").values_list("version", flat=True).first()
        )
        if last is None and (manifest := self.archived(stream_id)) is not None:
            return manifest.last_version
        return int(last or 0)

    def existing_streams(self, stream_ids: Iterable[str]) -> set[str]:
        """Those of the given streams that have at least one event, in one query."""
        wanted = list(dict.fromkeys(stream_ids))
        if not wanted:
            return set()
        # Every stream starts at version 1, so the unique (stream_id, version) index answers it.
        found = self._objects().filter(stream_id__in=wanted, version=1).values_list("stream_id", flat=True)
        return set(found)

    def first_events(self, stream_ids: Iterable[str]) -> dict[str, RecordedEvent]:
        """Each of the given streams' first event (version 1), by stream: those in the log in
        one query, archived ones from their segments (a stream with none is left out)."""
        wanted = list(dict.fromkeys(stream_ids))
        if not wanted:
            return {}
        rows = self._objects().filter(stream_id__in=wanted, version=1).values_list(*COLUMNS)
        found = {event.stream_id: event for event in self._recorded_all(rows)}
        for stream_id in wanted:
            if stream_id not in found and (archived := self.read_archived_stream(stream_id, to_version=1)):
                found[stream_id] = archived[0]
        return found

    def streams_with(self, event_type: str, field: str, value: str) -> list[str]:
        """The streams, in order of their first such event, holding an event of `event_type`
        whose data has `field` equal to `value` (a scan of that type's events: for rare
        questions, like which orders a customer placed when they ask to be forgotten)."""
        found = (
            self._objects()
            .filter(event_type=event_type, **{f"data__{field}": value})
            .order_by("position")
            .values_list("stream_id", flat=True)
        )
        return list(dict.fromkeys(found))

    def stream_position(self, stream_id: str) -> int:
        """The global position of a stream's last event (0 if it has no events)."""
        last = (
            self._objects().filter(stream_id=stream_id).order_by("-version").values_list("position", flat=True).first()
        )
        return int(last or 0)

    def story_origin(self, correlation_id: str) -> dict[str, Any] | None:
        """The metadata of the event that started the story `correlation_id` names (the lowest
        position carrying it), or None if no event carries it yet."""
        metadata: dict[str, Any] | None = (
            self._objects()
            .alias(correlation=CORRELATION)
            .filter(correlation=correlation_id)
            .order_by("position")
            .values_list("metadata", flat=True)
            .first()
        )
        return metadata


def event_store(using: str | None = None) -> EventStore:
    """The event store for a database, of the class settings.EVENT_STORE names (the PostgreSQL
    fast path on PostgreSQL): named, not imported, so this base never depends on a subclass."""
    implementation: type[EventStore] = named(settings.EVENT_STORE)
    return implementation(using)
