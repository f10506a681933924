"""The event store and command log on PostgreSQL: the portable ORM implementation's hot calls
in hand-written SQL, and the append lock that makes reading the log gap-safe.

Same contract as the portable implementation, which SQLite runs (one suite tests both,
tests/integration/test_event_log_contract.py), in hand-written SQL:
a command's six queries otherwise spend most of their time compiling ORM expressions,
and projections decode JSON text straight with msgspec instead of json.loads.

The statements run on server-side-binding psycopg cursors over Django's own connection
(so in the caller's transaction): psycopg then prepares a statement it has run a few times
on that connection, and the server parses and plans each of a command's queries once per
connection instead of once per command.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

import msgspec
import psycopg
from django.db import connections
from django.utils import timezone

from eventlog.buckets import BUCKETS, bucket_of
from eventlog.idempotency import CommandLog, HandledCommand
from eventlog.personal import key_ids, unseal, unseal_all
from eventlog.pg_statements import begin_with, begins_here, bound, pg_cursor
from eventlog.recorded import RecordedEvent, StoredSnapshot, recorded
from eventlog.records import CommandEntry, DuplicateCommand
from eventlog.store import APPEND_LOCK_KEY, EventStore, StreamVersionConflict

_EVENT_COLUMNS = (
    "position, event_id, stream_id, stream_type, version, event_type, schema_version, recorded_at, metadata, data"
)
STORY_ORIGIN_SQL = (
    "WITH story AS MATERIALIZED (SELECT position, metadata FROM eventlog_storedevent "
    "WHERE metadata ->> 'correlation_id' = %s) SELECT metadata FROM story ORDER BY position LIMIT 1"
)
# The secret of the key that sealed a row's `column` (eventlog/personal.py), by its unique key id.
_SECRET_OF = "(SELECT secret FROM eventlog_subjectkey WHERE key_id = ({column} #>> '{{personal,key}}')::uuid)"
COMMAND_RECORD_SQL = "SELECT command_type, fingerprint, result FROM eventlog_commandrecord WHERE command_id = %s"
# A stream's snapshot (if its state has the shape asked for; a row of its own, first: it has the
# lowest version, as the events are those after it), the events after it, and each row's key
# secret (NULL when nothing is sealed, or the key is gone); last, a row with no version if the
# archive's manifest says the stream's events are only in cold storage (what a command on an
# empty stream must know: its refusal is then "archived", not "not found"; asked here, a new
# stream's command costs no round trip more for it). Parameters: stream id, state version,
# stream id, stream id.
LOAD_STREAM_SQL = (
    "WITH snapshot AS ("
    "SELECT version, state FROM eventlog_snapshot WHERE stream_id = %s AND state_version = %s) "
    "SELECT NULL::bigint, NULL::uuid, NULL, NULL, version, NULL, NULL, NULL::timestamptz, NULL::jsonb, state, "
    f"{_SECRET_OF.format(column='state')} FROM snapshot UNION ALL "
    f"SELECT {_EVENT_COLUMNS}, {_SECRET_OF.format(column='data')} FROM eventlog_storedevent "
    "WHERE stream_id = %s AND version > COALESCE((SELECT version FROM snapshot), 0) UNION ALL "
    "SELECT NULL::bigint, NULL::uuid, NULL, NULL, NULL::integer, NULL, NULL, NULL::timestamptz, NULL::jsonb, "
    "NULL::jsonb, NULL::bytea FROM eventlog_archivedstream WHERE stream_id = %s AND status = 'archived' "
    "ORDER BY 5"  # NULLs last: the manifest's row, if any, ends the rows
)
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def _handled(command_id: str, rows: Sequence[tuple[Any, ...]]) -> HandledCommand | None:
    """The command record of COMMAND_RECORD_SQL's rows, if any."""
    if not rows:
        return None
    command_type, fingerprint, result = rows[0]
    return HandledCommand(
        command_id=command_id, command_type=command_type, fingerprint=fingerprint, result=_decode(result)
    )


class PostgresEventStore(EventStore):
    """EventStore with raw SQL for reads and appends on PostgreSQL."""

    # The rows of LOAD_STREAM_SQL read earlier (`preloaded`), for the next `load_stream`.
    _preloaded: tuple[str, int, list[tuple[Any, ...]]] | None = None
    # Whether the last `load_stream` found its stream archived (its manifest's row), for `is_archived`.
    _loaded_archived: tuple[str, bool] | None = None

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with pg_cursor(self.using) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _from_rows(self, rows: Iterable[tuple[Any, ...]]) -> list[RecordedEvent]:
        """Rows of raw SQL, their metadata and data still JSON text (decoded here with msgspec)."""
        return self._recorded_all((*head, _decode(meta), _decode(data)) for *head, meta, data in rows)

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
        """See EventStore.append; the lock, a multi-row INSERT and the command's record in one
        statement (one round trip, and the lock is held from there to COMMIT only)."""
        connection = connections[self.using]
        if not connection.in_atomic_block:
            raise RuntimeError("EventStore.append must run inside transaction.atomic")
        events = list(events)
        if not events:
            return []
        encoded = self._encode(events)
        meta = metadata or {}
        bucket = bucket_of(stream_id)
        ids = [uuid4() for _ in events]
        params: list[Any] = [APPEND_LOCK_KEY, stream_id, stream_type, bucket, _encode(meta).decode()]
        for offset, (event_type, schema_version, _data, sealed) in enumerate(encoded):
            params += [ids[offset], expected_version + offset + 1, event_type, schema_version, _encode(sealed).decode()]
        values = ", ".join(["(%s::uuid, %s::integer, %s, %s::smallint, %s::jsonb)"] * len(events))
        # The lock CTE yields its row only once the lock is held, and the position (the
        # column's sequence) and recorded_at are computed per inserted row, after it, so both
        # grow in commit order (gap-safe reading, eventlog/store.py). A data-modifying CTE runs
        # whether or not the outer query reads it: the command record rides along, its result
        # built from the rows just inserted.
        record = ""
        if command is not None:
            record = (
                ", record AS (INSERT INTO eventlog_commandrecord (command_id, command_type, fingerprint, result, "
                "recorded_at) SELECT %s, %s, %s, jsonb_build_object('stream_id', %s::text, 'version', max(version), "
                "'position', max(position)), clock_timestamp() FROM inserted)"
            )
        sql = (
            "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(%s)), inserted AS ("
            "INSERT INTO eventlog_storedevent (event_id, stream_id, stream_type, bucket, version, "
            "event_type, schema_version, data, metadata, recorded_at) "
            "SELECT new.event_id, %s, %s, %s, new.version, new.event_type, new.schema_version, new.data, "
            "%s::jsonb, clock_timestamp() "
            f"FROM lock, (VALUES {values}) AS new (event_id, version, event_type, schema_version, data) "
            f"ORDER BY new.version RETURNING position, recorded_at, version){record} "
            "SELECT position, recorded_at FROM inserted ORDER BY version"
        )
        if command is not None:
            params += [command.command_id, command.command_type, command.fingerprint, stream_id]
        with pg_cursor(self.using) as cursor:
            try:
                cursor.execute(sql, params)
            except psycopg.errors.UniqueViolation as error:
                if error.diag.table_name == "eventlog_commandrecord" and command is not None:
                    raise DuplicateCommand(command.command_id) from error
                raise StreamVersionConflict(stream_id, expected_version) from error
            inserted = cursor.fetchall()
        return [
            recorded(
                (
                    position,
                    event_id,
                    stream_id,
                    stream_type,
                    expected_version + offset + 1,
                    event_type,
                    schema_version,
                    recorded_at,
                    meta,
                    data,
                ),
                self.registry,
                event,
            )
            for offset, (
                (position, recorded_at),
                event_id,
                (event_type, schema_version, data, _sealed),
                event,
            ) in enumerate(zip(inserted, ids, encoded, events, strict=True))
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
        """See EventStore.read_stream."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM eventlog_storedevent WHERE stream_id = %s AND version > %s"
        params: list[Any] = [stream_id, after_version]
        if to_version is not None:
            sql += " AND version <= %s"
            params.append(to_version)
        if until is not None:
            sql += " AND recorded_at <= %s"
            params.append(until)
        sql += " ORDER BY version"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        events = self._from_rows(self._fetch(sql, params))
        return events or self.read_archived_stream(
            stream_id, after_version=after_version, to_version=to_version, until=until, limit=limit
        )

    def read_all(
        self,
        after_position: int = 0,
        *,
        limit: int = 1000,
        buckets: Sequence[int] | None = None,
        to_position: int | None = None,
    ) -> list[RecordedEvent]:
        """See EventStore.read_all."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM eventlog_storedevent WHERE position > %s"
        params: list[Any] = [after_position]
        if buckets is not None and len(buckets) < BUCKETS:
            sql += " AND bucket = ANY(%s)"
            params.append(list(buckets))
        if to_position is not None:
            sql += " AND position <= %s"
            params.append(to_position)
        sql += " ORDER BY position LIMIT %s"
        params.append(limit)
        return self._from_rows(self._fetch(sql, params))

    def existing_streams(self, stream_ids: Iterable[str]) -> set[str]:
        """See EventStore.existing_streams."""
        wanted = list(dict.fromkeys(stream_ids))
        if not wanted:
            return set()
        rows = self._fetch(
            "SELECT stream_id FROM eventlog_storedevent WHERE stream_id = ANY(%s) AND version = 1", [wanted]
        )
        return {row[0] for row in rows}

    def head_position(self) -> int:
        """See EventStore.head_position."""
        rows = self._fetch("SELECT COALESCE(MAX(position), 0) FROM eventlog_storedevent", [])
        return int(rows[0][0])

    def story_origin(self, correlation_id: str) -> dict[str, Any] | None:
        """See EventStore.story_origin. MATERIALIZED makes PostgreSQL find the story's events
        through eventlog_correlation_idx first: for a story of many events it would otherwise
        walk the primary key in position order, reading the log up to the story's start."""
        rows = self._fetch(STORY_ORIGIN_SQL, [correlation_id])
        return _decode(rows[0][0]) if rows else None

    def latest_snapshot(self, stream_id: str) -> StoredSnapshot | None:
        """See EventStore.latest_snapshot."""
        rows = self._fetch(
            "SELECT version, state_version, state FROM eventlog_snapshot WHERE stream_id = %s", [stream_id]
        )
        if not rows:
            return None
        version, state_version, state = rows[0]
        opened = unseal_all([_decode(state)], self.keys)[0]
        return StoredSnapshot(stream_id=stream_id, version=version, state_version=state_version, state=opened)

    def load_stream(self, stream_id: str, state_version: int) -> tuple[StoredSnapshot | None, list[RecordedEvent]]:
        """See EventStore.load_stream; one query (LOAD_STREAM_SQL) for the snapshot, the events
        after it, and the keys that sealed them (the loading of a command costs no round trip
        more for them), or none if the stream was `preloaded`."""
        preloaded, self._preloaded = self._preloaded, None  # read once: a later load reads afresh
        if preloaded is not None and preloaded[:2] == (stream_id, state_version):
            rows = preloaded[2]
        else:
            rows = self._fetch(LOAD_STREAM_SQL, [stream_id, state_version, stream_id, stream_id])
        archived = bool(rows) and rows[-1][4] is None
        self._loaded_archived = (stream_id, archived)
        if archived:
            rows = rows[:-1]
        decoded = [
            (*head, None if meta is None else _decode(meta), _decode(data), secret)
            for *head, meta, data, secret in rows
        ]
        secrets = {
            key_id: bytes(secret) for *_, data, secret in decoded if secret is not None for key_id in key_ids([data])
        }
        self.keys.loaded_with(secrets)
        snapshot = None
        if decoded and decoded[0][0] is None:  # no event has a NULL position
            first = decoded.pop(0)
            snapshot = StoredSnapshot(
                stream_id=stream_id, version=first[4], state_version=state_version, state=unseal(first[9], secrets)
            )
        return snapshot, [recorded(row[:10], self.registry, secrets=secrets) for row in decoded]

    def load_stream_statement(self, stream_id: str, state_version: int) -> tuple[str, list[Any]] | None:
        """See EventStore.load_stream_statement: LOAD_STREAM_SQL."""
        return LOAD_STREAM_SQL, [stream_id, state_version, stream_id, stream_id]

    def is_archived(self, stream_id: str) -> bool:
        """See EventStore.is_archived; answered by the load of that stream just before, which
        read the manifest's row with its events (LOAD_STREAM_SQL), else asked."""
        loaded, self._loaded_archived = self._loaded_archived, None  # read once, as `preloaded`
        if loaded is not None and loaded[0] == stream_id:
            return loaded[1]
        return super().is_archived(stream_id)

    def preloaded(self, stream_id: str, state_version: int, rows: list[tuple[Any, ...]]) -> None:
        """See EventStore.preloaded. Rows read with the transaction's first statement are as
        fresh as the handler's own read would be (READ COMMITTED; a writer committing in
        between is caught by the append's expected version, as always)."""
        self._preloaded = (stream_id, state_version, rows)


class PostgresCommandLog(CommandLog):
    """CommandLog with raw SQL on PostgreSQL."""

    def get(self, command_id: str) -> HandledCommand | None:
        """See CommandLog.get. As a transaction's first statement it brings the BEGIN along."""
        connection = connections[self.using]
        connection.ensure_connection()
        driver: psycopg.Connection[Any] = connection.connection
        if begins_here(driver):
            with connection.wrap_database_errors:  # as in pg_cursor
                [rows] = begin_with(driver, bound(COMMAND_RECORD_SQL, [command_id]), wrapper=connection)
            return _handled(command_id, rows)
        with pg_cursor(self.using) as cursor:
            cursor.execute(COMMAND_RECORD_SQL, [command_id])
            return _handled(command_id, cursor.fetchall())

    def get_along(
        self, command_id: str, statement: tuple[str, list[Any]]
    ) -> tuple[HandledCommand | None, list[tuple[Any, ...]] | None]:
        """See CommandLog.get_along. As the transaction's first statements, BEGIN, the look-up
        and `statement` go in one message: one round trip for what took two."""
        connection = connections[self.using]
        connection.ensure_connection()
        if not begins_here(connection.connection):
            return self.get(command_id), None
        record = bound(COMMAND_RECORD_SQL, [command_id])
        with connection.wrap_database_errors:  # as in pg_cursor
            found, rows = begin_with(connection.connection, record, bound(*statement), wrapper=connection)
        return _handled(command_id, found), rows

    def record(self, command_id: str, command_type: str, fingerprint: str, result: dict[str, Any]) -> None:
        """See CommandLog.record."""
        with pg_cursor(self.using) as cursor:
            try:
                cursor.execute(
                    "INSERT INTO eventlog_commandrecord (command_id, command_type, fingerprint, result, recorded_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [command_id, command_type, fingerprint, _encode(result).decode(), timezone.now()],
                )
            except psycopg.errors.UniqueViolation as error:
                raise DuplicateCommand(command_id) from error
