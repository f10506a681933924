"""Rebuilding projections blue/green on PostgreSQL: live read models never pause.

The guarantee: while a rebuild replays the log, the live tables keep their rows and keep
being projected (commands stay visible within a batch's lag); readers see either the old
table or the complete new one, never a partial one; a rebuild that dies at any point
leaves the live tables as they were, and the next rebuild starts over.

How (docs/architecture.md, "Rebuild"):

1. `prepare`: a schema of its own (SHADOW) on the read database gets an empty copy of
   each table of the projections (columns, defaults, identity, checks, grants, and the
   primary and unique keys the upserts name as conflict targets), plus empty copies of
   the checkpoint and dead-letter tables; the projections' skipped letters are copied in,
   so the replay treats the skipped events as live projection does.
2. `load`: the log up to the head is replayed into them by the projections' own `apply`,
   each batch in a transaction whose search_path puts SHADOW first, so every unqualified
   table name the projections use resolves to the shadow (tables not copied, such as the
   notification outbox, stay the live ones; a verification copies those too, with their rows,
   so its replay decides as live projection does and writes nothing live). The other indexes
   are built after the load.
3. `catch_up`: the shadow's checkpoints (in SHADOW's checkpoint table, at the head the
   load reached) follow the log by the engine's own loop, while live projection continues
   on the live tables with the live checkpoints.
4. `swap`, one short transaction: lock the live checkpoint rows (live projection of these
   projections waits), catch the shadow up to the head, move each live table out to
   RETIRED and the shadow's in, set the live checkpoints to the shadow's and replace the
   projections' blocking dead letters with the shadow's. A skip an operator made on a live
   letter meanwhile is made on the shadow's letter of the same event first (or, if the
   shadow did not stop there, reported as not carried over). Live projection then continues
   from the shadow's checkpoints on the new tables; RETIRED is dropped afterwards.

A session advisory lock on the read database admits one rebuild at a time; a killed
rebuild's lock goes with its session and its schemas are dropped by the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError, OperationalError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from eventlog.store import EventStore
from projector.dead_letters import BLOCKING
from projector.loop import Projector, all_partitions, run_batch
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.projection import Projection

logger = logging.getLogger(__name__)

SHADOW = "rebuild_shadow"
RETIRED = "rebuild_retired"
# pg_try_advisory_lock key (session level) for "a rebuild is running"; distinct from the
# append lock and the catalog lock, which are transaction-level.
REBUILD_LOCK_KEY = 0x5245_4255_494C  # "REBUIL"
# The swap waits at most this long for readers to let go of a table, then tries again:
# a long report must not hold every reader queued behind the swap's exclusive lock.
SWAP_LOCK_TIMEOUT = "2s"
SWAP_ATTEMPTS = 10


class RebuildRunning(RuntimeError):
    """Another rebuild holds the read database's rebuild lock."""


@dataclass(frozen=True, slots=True)
class Shadow:
    """The tables one rebuild replaces, on the read database whose live schema is `live`."""

    using: str
    live: str
    search_path: str
    tables: tuple[str, ...]
    bookkeeping: tuple[str, ...]

    @property
    def connection(self) -> BaseDatabaseWrapper:
        return connections[self.using]


def possible(using: str) -> bool:
    """True if a blue/green rebuild can run on `using`: PostgreSQL, and a role that may
    create schemas and owns the read-model tables (the role that runs migrations; the
    application's least-privileged role cannot, and gets the in-place rebuild)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_database_privilege(current_database(), 'CREATE') AND bool_and(pg_has_role(tableowner, 'USAGE'))"
            " FROM pg_tables WHERE schemaname = current_schema() AND tablename = %s",
            [ProjectionCheckpoint._meta.db_table],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


@contextmanager
def exclusive(using: str) -> Iterator[None]:
    """Hold the read database's rebuild lock for the block; RebuildRunning if it is taken."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [REBUILD_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise RebuildRunning("Another rebuild is running on the read database; try again when it has finished.")
    try:
        yield
    finally:
        try:
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK_KEY])
        except DatabaseError as error:  # the session is gone, and its lock with it
            logger.warning("Could not release the rebuild lock (%s); its session has ended", error)


def prepare(projections: Sequence[Projection], using: str, *, beside: bool = False) -> Shadow:
    """Drop what an earlier rebuild left, and create the empty shadow of the projections' tables;
    with `beside`, also full copies of the tables they write but do not own (`writes_beside`),
    for a replay that must leave every live table as it is."""
    connection = connections[using]
    quote = connection.ops.quote_name
    bookkeeping: tuple[type[models.Model], ...] = (ProjectionCheckpoint, DeadLetter)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        commit_without_flush(cursor)
        cursor.execute("SELECT current_schema(), current_setting('search_path')")
        live, search_path = cursor.fetchone()
        shadow = Shadow(
            using=using,
            live=live,
            search_path=search_path,
            tables=tuple(dict.fromkeys(table._meta.db_table for p in projections for table in p.tables)),
            bookkeeping=tuple(model._meta.db_table for model in bookkeeping),
        )
        cursor.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
        cursor.execute(f"DROP SCHEMA IF EXISTS {RETIRED} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SHADOW}")
        for table in shadow.tables:
            live, copy = f"{quote(shadow.live)}.{quote(table)}", f"{SHADOW}.{quote(table)}"
            cursor.execute(
                f"CREATE TABLE {copy} (LIKE {live} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED"
                " INCLUDING CONSTRAINTS INCLUDING STORAGE)"
            )
            # Primary and unique keys now: the upserts name them as conflict targets.
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY conname",
                [f"{shadow.live}.{table}"],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {copy} ADD CONSTRAINT {quote(name)} {definition}")
            _copy_grants(cursor, f"{shadow.live}.{table}", copy)
        for table in shadow.bookkeeping:
            cursor.execute(
                f"CREATE TABLE {SHADOW}.{quote(table)} (LIKE {quote(shadow.live)}.{quote(table)} INCLUDING ALL)"
            )
        owned = set(shadow.tables)
        aside = {model._meta.db_table for p in projections for model in p.writes_beside} if beside else set()
        for table in sorted(aside - owned):
            live, copy = f"{quote(shadow.live)}.{quote(table)}", f"{SHADOW}.{quote(table)}"
            cursor.execute(f"CREATE TABLE {copy} (LIKE {live} INCLUDING ALL)")
            cursor.execute(f"INSERT INTO {copy} SELECT * FROM {live}")
        # An operator's skips stand for the replay too: an event that fails again stays skipped.
        letters, listed = quote(shadow.bookkeeping[1]), _letter_columns(connection)
        cursor.execute(
            f"INSERT INTO {SHADOW}.{letters} ({listed}) SELECT {listed} FROM {quote(shadow.live)}.{letters}"
            " WHERE projection = ANY(%s) AND status = %s",
            [[projection.name for projection in projections], str(DeadLetter.Status.SKIPPED)],
        )
    return shadow


def _letter_columns(connection: BaseDatabaseWrapper) -> str:
    """The dead-letter table's columns but its id, quoted and listed: what moves a letter
    between the live table and the shadow's."""
    return ", ".join(
        connection.ops.quote_name(field.column)
        for field in DeadLetter._meta.concrete_fields
        if not isinstance(field, models.AutoField)
    )


def _copy_grants(cursor: CursorWrapper, live: str, copy: str) -> None:
    """Grant on the copy what is granted on the live table (the application's role)."""
    cursor.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, a.privilege_type"
        " FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee"
        " WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
        [live],
    )
    for grantee, privilege in cursor.fetchall():
        cursor.execute(f"GRANT {privilege} ON {copy} TO {grantee}")


def commit_without_flush(cursor: CursorWrapper) -> None:
    """This transaction's COMMIT returns before its WAL reaches the disk. Safe for every step
    of a rebuild: a crash can only lose whole transactions from the end of the WAL, and
    each step's state is consistent (the swap's too: without it, the old tables and
    checkpoints stand); the next durable commit of this session flushes it anyway."""
    cursor.execute("SELECT set_config('synchronous_commit', 'off', true)")


@contextmanager
def inside(shadow: Shadow) -> Iterator[None]:
    """A transaction (or savepoint) in which unqualified names resolve to the shadow's tables.

    The setting is local to the transaction; it is put back explicitly at the end of the
    block because, inside an outer transaction, a released savepoint would keep it.
    """
    with transaction.atomic(using=shadow.using), shadow.connection.cursor() as cursor:
        commit_without_flush(cursor)
        cursor.execute("SELECT set_config('search_path', %s, true)", [f"{SHADOW}, {shadow.search_path}"])
        yield
        cursor.execute("SELECT set_config('search_path', %s, true)", [shadow.search_path])


def start_checkpoints(shadow: Shadow, projections: Sequence[Projection], head: int) -> None:
    """The shadow's checkpoints: every partition at the head the load replayed."""
    with inside(shadow):
        ProjectionCheckpoint.objects.using(shadow.using).bulk_create(
            ProjectionCheckpoint(projection=projection.name, partition=partition, position=head)
            for projection in projections
            for partition in all_partitions()
        )


def catch_up(shadow: Shadow, projections: Sequence[Projection], store: EventStore, reached: int) -> int:
    """Bring the shadow's checkpoints (all at or past `reached`) to the head with the engine's
    loop, a batch per transaction; returns a position they all reached."""
    head = store.head_position()
    if head <= reached:
        return reached  # nothing committed since: not even a batch per partition to run
    by_name = {projection.name: projection for projection in projections}
    for partition in all_partitions():
        more = True
        while more:
            with inside(shadow):
                more = run_batch(partition, by_name, wait=True, store=store).more
    return head


def swap(shadow: Shadow, projections: Sequence[Projection], store: EventStore, reached: int) -> int:
    """Put the shadow's tables (caught up to `reached`) in place of the live ones in one short
    transaction (retried if readers hold a table longer than SWAP_LOCK_TIMEOUT); returns the
    head they reached."""
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            return _swap(shadow, projections, store, reached)
        except OperationalError as error:
            if "lock timeout" not in str(error) or attempt == SWAP_ATTEMPTS:
                raise
            logger.warning("Rebuild swap waited too long for readers (attempt %d); trying again", attempt)
            reached = catch_up(shadow, projections, store, reached)  # live work went on meanwhile
    raise AssertionError("unreachable: the last attempt returns or raises")


def _swap(shadow: Shadow, projections: Sequence[Projection], store: EventStore, reached: int) -> int:
    quote = shadow.connection.ops.quote_name
    names = sorted(projection.name for projection in projections)
    live = quote(shadow.live)
    checkpoints, letters = quote(shadow.bookkeeping[0]), quote(shadow.bookkeeping[1])
    with transaction.atomic(using=shadow.using), shadow.connection.cursor() as cursor:
        commit_without_flush(cursor)
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [SWAP_LOCK_TIMEOUT])
        # Live projection of these projections waits from here to COMMIT: it then reads
        # the checkpoints set below, on the new tables. No deadlock: a live batch that waits
        # holds one checkpoint row, one that shares skips locked rows (projector/loop.py).
        rows = ProjectionCheckpoint.objects.using(shadow.using)
        rows.bulk_create(
            [ProjectionCheckpoint(projection=name, partition=p) for name in names for p in all_partitions()],
            ignore_conflicts=True,
        )
        list(rows.select_for_update().filter(projection__in=names).order_by("projection", "partition"))
        _carry_skips(shadow, projections, store)
        head = catch_up(shadow, projections, store, reached)  # the last few events, into savepoints
        cursor.execute(f"CREATE SCHEMA {RETIRED}")
        for table in shadow.tables:
            cursor.execute(f"ALTER TABLE {live}.{quote(table)} SET SCHEMA {RETIRED}")
            cursor.execute(f"ALTER TABLE {SHADOW}.{quote(table)} SET SCHEMA {live}")
        cursor.execute(
            f"UPDATE {live}.{checkpoints} AS l SET position = s.position, updated_at = now()"
            f" FROM {SHADOW}.{checkpoints} AS s WHERE l.projection = s.projection AND l.partition = s.partition"
        )
        cursor.execute(
            f"DELETE FROM {live}.{letters} WHERE projection = ANY(%s) AND status = ANY(%s)",
            [names, [str(status) for status in BLOCKING]],
        )
        listed = _letter_columns(shadow.connection)
        updates = ", ".join(f"{column} = excluded.{column}" for column in listed.split(", "))
        cursor.execute(
            f"INSERT INTO {live}.{letters} ({listed}) SELECT {listed} FROM {SHADOW}.{letters}"
            f" ON CONFLICT (projection, position) DO UPDATE SET {updates}"
        )
    return head


def _carry_skips(shadow: Shadow, projections: Sequence[Projection], store: EventStore) -> None:
    """Make on the shadow each skip an operator made on a live letter while it was built (the
    live checkpoint locks the swap holds keep any more from coming): the shadow's letter of
    that event is skipped the same way (its held events then apply), so the decision
    survives the swap. If the shadow did not stop at that event (it applied it, or stopped
    earlier in its stream), its own letters stand, and the log says the skip was not
    carried over."""
    quote = shadow.connection.ops.quote_name
    letters = quote(shadow.bookkeeping[1])
    with shadow.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.projection, l.stream_id, l.position, first.position"
            f" FROM {quote(shadow.live)}.{letters} AS l"
            f" LEFT JOIN LATERAL (SELECT s.position FROM {SHADOW}.{letters} AS s"
            "   WHERE s.projection = l.projection AND s.stream_id = l.stream_id AND s.status = ANY(%s)"
            "   ORDER BY s.position LIMIT 1) AS first ON true"
            " WHERE l.projection = ANY(%s) AND l.status = %s"
            f" AND NOT EXISTS (SELECT 1 FROM {SHADOW}.{letters} AS s"
            "   WHERE s.projection = l.projection AND s.position = l.position AND s.status = %s)",
            [
                [str(status) for status in BLOCKING],
                [projection.name for projection in projections],
                str(DeadLetter.Status.SKIPPED),
                str(DeadLetter.Status.SKIPPED),
            ],
        )
        skips = cursor.fetchall()
    by_name = {projection.name: projection for projection in projections}
    for name, stream_id, position, stops_at in skips:
        if stops_at == position:
            with inside(shadow):
                Projector(by_name[name], store).retry_stream(stream_id, skip_first=True)
        else:
            logger.warning(
                "Rebuild of %s: the skip of position %d (stream %s) was not carried over: the rebuilt"
                " projection %s; skip again if it is still wanted",
                name,
                position,
                stream_id,
                "applied it" if stops_at is None else f"stops earlier in the stream, at position {stops_at}",
            )


def drop(using: str) -> None:
    """Drop the retired tables and what is left of the shadow."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        commit_without_flush(cursor)
        cursor.execute(f"DROP SCHEMA IF EXISTS {RETIRED} CASCADE")
        cursor.execute(f"DROP SCHEMA IF EXISTS {SHADOW} CASCADE")
