"""Helpers the read models' projections fold events with: stream order, atomic increments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections

from eventlog.store import EventStore, RecordedEvent

RowT = TypeVar("RowT")


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
