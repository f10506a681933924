"""Statements on Django's own psycopg connection, for the event log's PostgreSQL fast paths
(eventlog/postgres.py): cursors whose errors read as Django's, and a transaction's BEGIN sent
in one message with its first queries instead of a round trip of its own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import generators, sql
from psycopg.adapt import Transformer


@contextmanager
def pg_cursor(using: str) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
    """A server-side-binding cursor on Django's connection for `using`.

    Errors leave it as Django's own cursors' do (`wrap_database_errors`): a lost connection is
    django.db's OperationalError, which the projection engine and the workers' tasks retry
    (psycopg's own would be an unexpected failure), and Django marks the connection as having
    had errors, so it is checked and closed at the end of the request or task instead of kept
    (tests/integration/test_worker_connections.py). A statement that handles an error itself
    (a unique violation telling a duplicate command from a version conflict) catches psycopg's
    exception inside the block, before it is translated."""
    connection = connections[using]
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


@contextmanager
def client_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A client-side-binding cursor (several statements in one message) straight on the
    driver on PostgreSQL, errors translated as Django's are (see `pg_cursor`): Django's cursor
    wrapper costs a command tens of microseconds of CPU (docs/performance-log.md). Django's
    own cursor elsewhere (SQLite)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.ClientCursor(connection.connection) as cursor:
        yield cursor


def begins_here(driver: psycopg.Connection[Any]) -> bool:
    """Whether psycopg would now send a plain BEGIN of its own before the next statement: a
    transaction is wanted (not autocommit) and none is open yet, with no options to BEGIN."""
    return (
        not driver.autocommit
        and driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        and driver.isolation_level is None
        and driver.read_only is None
        and not driver.deferrable
    )


@lru_cache(maxsize=64)
def _pieces(query: str) -> tuple[sql.SQL, ...]:
    """The text around a query's %s placeholders, split once per query: parsing the template
    on every command was a measurable share of its Python (docs/performance-log.md)."""
    return tuple(sql.SQL(piece) for piece in query.split("%s"))


def bound(query: str, params: Sequence[Any]) -> sql.Composed:
    """A %s-placeholder query with its values bound client-side (psycopg's quoting)."""
    pieces = _pieces(query)
    if len(pieces) != len(params) + 1:
        raise TypeError(f"the query has {len(pieces) - 1} placeholders, not {len(params)}")
    parts: list[sql.Composable] = [pieces[0]]
    for param, piece in zip(params, pieces[1:], strict=True):
        parts += [sql.Literal(param), piece]
    return sql.Composed(parts)


def begin_with(driver: psycopg.Connection[Any], *queries: sql.Composed) -> list[list[tuple[Any, ...]]]:
    """BEGIN and the queries in one round trip (the simple query protocol takes them all in one
    message, their values bound client-side by `bound`): each query's rows, loaded as the
    connection's cursors load them.

    psycopg would otherwise send BEGIN alone and wait for it. It sees the transaction open
    afterwards (the connection's status is the server's) and sends no BEGIN of its own; the
    commit or rollback is Django's, as for any transaction."""
    text = b"; ".join([b"BEGIN", *(query.as_bytes(driver) for query in queries)])
    with driver.lock:
        driver.pgconn.send_query(text)
        # Every result, so the connection is ready again, read as psycopg's cursors read theirs:
        # waiting on the socket with the GIL released (a blocking get_result() held it, stopping
        # every other thread of the process while the server answered), and a connection lost
        # meanwhile raised as OperationalError (get_result() made it a result with no SQLSTATE,
        # raised below as the base DatabaseError: a failure of the command, not an outage).
        results = driver.wait(generators.execute(driver.pgconn))
    for result in results:
        if result.status not in (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK):
            raise psycopg.errors.error_from_result(result, encoding=driver.info.encoding)
    transformer = Transformer(driver)
    rows = []
    for result in results[1:]:
        transformer.set_pgresult(result)
        rows.append(transformer.load_rows(0, result.ntuples, tuple))
    return rows
