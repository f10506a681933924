"""Writing a batch of read-model rows in one statement.

Django's bulk_create(update_conflicts=True) is correct but, with psycopg's client-side
binding, spends most of a rebuild quoting values in Python (profiled in
docs/performance-log.md). On PostgreSQL this sends the rows as one typed array per column
(`INSERT ... SELECT * FROM unnest(...) ON CONFLICT ... DO UPDATE`), bound server-side in
psycopg's binary format, and rows known to be new with COPY; other databases keep
bulk_create.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import psycopg
from django.db import connections, models
from psycopg.types.json import Jsonb

Rows = Sequence[Mapping[str, Any]]


def upsert_rows(using: str, model: type[models.Model], rows: Rows, key: str) -> None:
    """Insert `rows` (field name -> value), replacing every column of a row whose `key` exists."""
    _insert(using, model, rows, key, replace=True)


def insert_new_rows(using: str, model: type[models.Model], rows: Rows, key: str) -> None:
    """Insert those of `rows` (every column, by field name) whose `key` is not taken yet."""
    _insert(using, model, rows, key, replace=False)


def copy_rows(using: str, model: type[models.Model], rows: Rows) -> None:
    """Insert `rows` (every column, by field name), none of which may exist yet: with COPY on
    PostgreSQL, about twice as fast as the upsert (its rows are formatted in psycopg's C
    code, and the server skips the conflict check). A row that exists after all is an
    IntegrityError, never a silent overwrite."""
    if not rows:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        model._default_manager.using(using).bulk_create([model(**row) for row in rows])
        return
    names = list(rows[0])
    fields = [_column(model, name) for name in names]
    jsonb = [isinstance(field, models.JSONField) for field in fields]
    columns = ", ".join(str(field.column) for field in fields)
    connection.ensure_connection()
    # Errors translated as Django's cursors translate them (see eventlog/postgres.py's _cursor).
    with (
        connection.wrap_database_errors,
        psycopg.Cursor(connection.connection) as cursor,
        cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            # A jsonb value goes as its JSON text, which COPY's text format parses as the
            # column's type: no Jsonb wrapper and Python-level dumper call per value.
            copy.write_row(
                [
                    _json(row[name]).decode() if is_json else row[name]
                    for name, is_json in zip(names, jsonb, strict=True)
                ]
            )


def _insert(using: str, model: type[models.Model], rows: Rows, key: str, *, replace: bool) -> None:
    if not rows:
        return
    connection = connections[using]
    names = list(rows[0])
    if connection.vendor != "postgresql":
        objects = [model(**row) for row in rows]
        if replace:
            model._default_manager.using(using).bulk_create(
                objects,
                update_conflicts=True,
                unique_fields=[key],
                update_fields=[name for name in names if name != key],
            )
        else:
            model._default_manager.using(using).bulk_create(objects, ignore_conflicts=True)
        return
    fields = [_column(model, name) for name in names]
    columns = [str(field.column) for field in fields]
    casts = [f"%b::{field.db_type(connection)}[]" for field in fields]
    jsonb = [isinstance(field, models.JSONField) for field in fields]
    arrays = [
        [Jsonb(row[name], dumps=_json) if is_json else row[name] for row in rows]
        for name, is_json in zip(names, jsonb, strict=True)
    ]
    table = model._meta.db_table
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column != key)
    conflict = f"DO UPDATE SET {updates}" if replace else "DO NOTHING"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(casts)}) "
        f"ON CONFLICT ({key}) {conflict}"
    )
    connection.ensure_connection()
    # A server-side-binding cursor on Django's own connection, so the statement runs in the
    # caller's transaction; errors translated as Django's cursors translate them.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, arrays)


def _json(value: Any) -> bytes:
    """JSON for a jsonb column: msgspec's encoder, several times json.dumps's speed (it was a
    tenth of the orders projection's rebuild profile); jsonb stores the same value either way."""
    return msgspec.json.encode(value)


def _column(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field
