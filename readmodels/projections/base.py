"""Helpers the read models' projections fold events with: stream order, atomic increments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from decimal import Context, Decimal
from typing import Any, TypeVar

from django.db import connections, transaction
from django.db.models import DecimalField, Model

from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore

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
    model: type[Model],
    key_columns: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    max_columns: Sequence[str] = (),
) -> None:
    """INSERT rows, or add their `columns` to the existing row with the same key (and keep
    the greater of old and new for `max_columns`, which follow `columns` in each row).

    One statement, atomic per row, so partitions projecting in parallel never lose an
    increment. Rows are sorted by key so concurrent batches lock rows in the same order.

    Amounts are added exactly on both databases. PostgreSQL adds numeric columns exactly.
    SQLite keeps a decimal column as a binary float, so adding there (0.1 + 0.2 =
    0.30000000000000004) would make a sum depend on how the events were batched, and a
    replay of the log differ from the live row; there the amounts are added in Python
    (`_exact_totals`) and written as totals.
    """
    if not rows:
        return
    connection = connections[using]
    table = model._meta.db_table
    exact = _decimal_columns(model, columns) if connection.vendor == "sqlite" else {}
    # SQLite's two-argument MAX is PostgreSQL's GREATEST; both ignore a NULL side only on PG,
    # so COALESCE keeps the comparison total.
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    all_columns = [*key_columns, *columns, *max_columns]
    placeholders = "(" + ", ".join(["%s"] * len(all_columns)) + ")"
    updates = ", ".join(
        [
            f"{column} = excluded.{column}" if column in exact else f"{column} = {table}.{column} + excluded.{column}"
            for column in columns
        ]
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
    ordered = sorted(rows, key=lambda row: _key(row, len(key_columns)))
    # The read of the stored totals and the write of the new ones in one transaction: on
    # SQLite it holds the database's one write lock from BEGIN (IMMEDIATE, config/settings.py),
    # so no other writer adds in between.
    with transaction.atomic(using=using) if exact else nullcontext():
        if exact:
            ordered = _exact_totals(using, table, key_columns, columns, exact, ordered)
        params = [value for row in ordered for value in row]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _key(row: Sequence[Any], width: int) -> tuple[str, ...]:
    return tuple(str(value) for value in row[:width])


def _decimal_columns(model: type[Model], columns: Sequence[str]) -> dict[str, DecimalField[Any, Any]]:
    fields = {field.column: field for field in model._meta.concrete_fields}
    return {column: field for column in columns if isinstance(field := fields[column], DecimalField)}


def _exact_totals(
    using: str,
    table: str,
    key_columns: Sequence[str],
    columns: Sequence[str],
    exact: dict[str, DecimalField[Any, Any]],
    rows: list[Sequence[Any]],
) -> list[Sequence[Any]]:
    """`rows` with each decimal column's increment replaced by the stored total plus it,
    added in Decimal and rounded to the column's places: every stored amount is then the
    float SQLite makes of one exact total, whatever batches it was added up in."""
    width = len(key_columns)
    keys = ", ".join(key_columns)
    listed = ", ".join(exact)
    matched = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT {keys}, {listed} FROM {table} WHERE ({keys}) IN (VALUES {matched})",
            [value for row in rows for value in row[:width]],
        )
        stored = {_key(found, width): found[width:] for found in cursor.fetchall()}
    totals: list[Sequence[Any]] = []
    for row in rows:
        before = dict(zip(exact, stored.get(_key(row, width), (0,) * len(exact)), strict=True))
        added = [
            # A float read back is within far less than half its last place of the total it
            # was written from: rounding to the column's places gives that total again.
            _in_places(exact[column], Decimal(before[column] or 0) + Decimal(value)) if column in exact else value
            for column, value in zip(columns, row[width : width + len(columns)], strict=True)
        ]
        totals.append([*row[:width], *added, *row[width + len(columns) :]])
    return totals


def _in_places(field: DecimalField[Any, Any], amount: Decimal) -> Decimal:
    """`amount` rounded to the column's decimal places (a DecimalField has both numbers)."""
    assert field.max_digits is not None
    assert field.decimal_places is not None
    return amount.quantize(Decimal(1).scaleb(-field.decimal_places), context=Context(prec=field.max_digits))
