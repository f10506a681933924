"""The event log's client-side bound statements (eventlog/pg_statements.py): values quoted
as psycopg quotes them, braces in the SQL left as they are, a wrong count of values refused."""

from __future__ import annotations

import pytest
from psycopg import sql

from eventlog.pg_statements import bound
from eventlog.postgres import LOAD_STREAM_SQL


def test_values_are_quoted_and_the_sql_around_them_kept() -> None:
    statement = bound("SELECT %s, data #>> '{personal,key}' FROM t WHERE id = %s", ["it's", 3])

    assert statement.as_bytes(None) == b"SELECT 'it''s', data #>> '{personal,key}' FROM t WHERE id = 3"


def test_a_statement_bound_twice_binds_each_time_its_own_values() -> None:
    first = bound(LOAD_STREAM_SQL, ["order-1", 2, "order-1", "order-1"]).as_bytes(None)
    second = bound(LOAD_STREAM_SQL, ["order-2", 3, "order-2", "order-2"]).as_bytes(None)

    expected = LOAD_STREAM_SQL.replace("%s", "{}").replace("{personal,key}", "{{personal,key}}")
    assert first == sql.SQL(expected).format("order-1", 2, "order-1", "order-1").as_bytes(None)
    assert second == sql.SQL(expected).format("order-2", 3, "order-2", "order-2").as_bytes(None)


def test_a_wrong_number_of_values_is_refused() -> None:
    with pytest.raises(TypeError, match="2 placeholders, not 1"):
        bound("SELECT %s, %s", [1])
