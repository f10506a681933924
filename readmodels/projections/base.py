"""What a projection is: a named consumer of the event log that owns some read-model tables."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from django.db import connections, models

from eventlog.store import EventStore, RecordedEvent

RowT = TypeVar("RowT")


class Projection(abc.ABC):
    """Applies batches of events, in log order, inside the caller's transaction.

    The projector guarantees each event reaches `apply` once per projection (checkpoints
    in the same transaction); `apply` additionally skips events at or below a row's
    version, so applying the same events twice changes nothing.
    """

    name: ClassVar[str]
    # The tables this projection owns; a rebuild empties and refills exactly these.
    tables: ClassVar[tuple[type[models.Model], ...]]
    # False for a consumer whose effects are not its tables (a process manager sending
    # commands): "rebuild everything" leaves it alone.
    rebuildable: ClassVar[bool] = True
    # False for a consumer that writes to the event log (it takes the append lock): a batch
    # shared with read models would hold that lock, and so stall every writer, while they
    # wait on their rows. Such a consumer always runs in a transaction of its own.
    shares_batches: ClassVar[bool] = True
    # Errors that say "not now" rather than "never" (an unreachable broker): like a database
    # outage they roll the batch back and leave the checkpoint, never make dead letters.
    transient_errors: ClassVar[tuple[type[Exception], ...]] = ()

    @abc.abstractmethod
    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Apply `events` (ascending position) with bulk reads and writes."""


def advance_stream(
    row: RowT | None,
    row_version: int,
    event: RecordedEvent,
    fold: Callable[[RowT | None, RecordedEvent], RowT],
    store: EventStore,
) -> RowT | None:
    """Fold `event` into `row` in stream order.

    An event at or below the row's version was applied already and is skipped. An event
    ahead of its predecessor means the row missed events: the stream is caught up from
    the event log first, never applied early.
    """
    if event.version <= row_version:
        return row
    if event.version > row_version + 1:
        missed = store.read_stream(event.stream_id, after_version=row_version, to_version=event.version - 1)
        for earlier in missed:
            row = fold(row, earlier)
    return fold(row, event)


def upsert_increments(
    using: str,
    table: str,
    key_columns: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    max_columns: Sequence[str] = (),
) -> None:
    """INSERT rows, or add their `columns` to the existing row with the same key (and keep
    the greater of old and new for `max_columns`, which follow `columns` in each row).

    One statement, atomic per row, so partitions projecting in parallel never lose an
    increment. Rows are sorted by key so concurrent batches lock rows in the same order.
    """
    if not rows:
        return
    connection = connections[using]
    # SQLite's two-argument MAX is PostgreSQL's GREATEST; both ignore a NULL side only on PG,
    # so COALESCE keeps the comparison total.
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    all_columns = [*key_columns, *columns, *max_columns]
    placeholders = "(" + ", ".join(["%s"] * len(all_columns)) + ")"
    updates = ", ".join(
        [f"{column} = {table}.{column} + excluded.{column}" for column in columns]
        + [
            f"{column} = {greatest}(COALESCE({table}.{column}, excluded.{column}), "
            f"COALESCE(excluded.{column}, {table}.{column}))"
            for column in max_columns
        ]
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(all_columns)}) VALUES "
        + ", ".join([placeholders] * len(rows))
        + f" ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}"
    )
    ordered = sorted(rows, key=lambda row: tuple(str(value) for value in row[: len(key_columns)]))
    params = [value for row in ordered for value in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
