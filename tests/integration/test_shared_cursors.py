"""The event log's statements share one cursor of each kind per connection
(eventlog/pg_statements.py): a statement run while another holds it gets its own, a reconnect
gets new ones, and timestamps load through psycopg's compiled loader with the value Django's
own loader gives."""

from __future__ import annotations

from datetime import UTC

import psycopg
import pytest
from django.db import connections
from psycopg.pq import Format

from eventlog.pg_statements import TIMESTAMPTZ_OID, begin_with, bound, client_cursor, pg_cursor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SQL = "SELECT %s::timestamptz"
TEXT = "2026-03-04 05:06:07.891011+02"


def test_a_connection_lends_one_cursor_at_a_time() -> None:
    connection = connections["default"]
    with pg_cursor("default") as first:
        with pg_cursor("default") as nested:  # while `first` is lent: one of its own
            assert nested is not first
            nested.execute("SELECT 2")
            assert nested.fetchall() == [(2,)]
        first.execute("SELECT 1")
        assert first.fetchall() == [(1,)]
    with pg_cursor("default") as again:
        assert again is first
    with client_cursor(connection) as client, client_cursor(connection) as other:
        assert client is not other


def test_a_reconnected_connection_gets_new_cursors() -> None:
    with pg_cursor("default") as before:
        pass
    connections["default"].close()
    with pg_cursor("default") as after:
        after.execute("SELECT 1")
        assert after.fetchall() == [(1,)]
    assert after is not before


def test_timestamps_load_compiled_with_djangos_value() -> None:
    connection = connections["default"]
    compiled = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    with pg_cursor("default") as cursor:
        assert cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT) is compiled
        cursor.execute(SQL, [TEXT])
        [(ours,)] = cursor.fetchall()
    with connection.cursor() as django_cursor:  # Django's own loader
        django_cursor.execute(SQL, [TEXT])
        [(djangos,)] = django_cursor.fetchall()
    assert ours == djangos
    assert ours.tzinfo == djangos.tzinfo == UTC
    assert ours.isoformat() == djangos.isoformat() == "2026-03-04T03:06:07.891011+00:00"
    connection.set_autocommit(False)
    try:
        [[(first,)]] = begin_with(connection.connection, bound(SQL, [TEXT]), wrapper=connection)
    finally:
        connection.rollback()
        connection.set_autocommit(True)
    assert first == djangos
    assert first.tzinfo == UTC
