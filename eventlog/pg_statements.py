"""Statements on Django's own psycopg connection, for the event log's PostgreSQL fast paths
(eventlog/postgres.py): cursors whose errors read as Django's, and a transaction's BEGIN sent
in one message with its first queries instead of a round trip of its own.

A command runs two to four statements here; each used to open a psycopg cursor of its own,
which rebuilds the cursor's adapter caches and picks the loader of each column afresh (about a
tenth of a millisecond of CPU per command in all, docs/performance-log.md). Each connection
keeps one cursor of each kind for them instead (`_Cursors`), lent to one statement at a time.
Those cursors load `timestamptz` with psycopg's compiled loader, not Django's (a Python
subclass that parses the text in Python), where both give the same value: the session's time
zone is the one Django asked for (`_compiled_timestamps`).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import abc, generators
from psycopg.adapt import Transformer
from psycopg.pq import Format

TIMESTAMPTZ_OID = 1184


class _Cursors:
    """One driver connection's reusable cursors (server-side and client-side binding), each
    lent to one statement at a time: a statement run while another holds it gets a fresh one."""

    __slots__ = ("driver", "lent", "shared")

    def __init__(self, driver: psycopg.Connection[Any], wrapper: BaseDatabaseWrapper) -> None:
        self.driver = driver
        self.shared: dict[type[psycopg.Cursor[Any]], psycopg.Cursor[Any]] = {
            kind: kind(driver) for kind in (psycopg.Cursor, psycopg.ClientCursor)
        }
        self.lent: set[type[psycopg.Cursor[Any]]] = set()
        if _compiled_timestamps(driver, wrapper):
            loader = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
            if loader is not None:
                for cursor in self.shared.values():
                    cursor.adapters.register_loader(TIMESTAMPTZ_OID, loader)

    @property
    def server(self) -> psycopg.Cursor[Any]:
        """The server-side-binding cursor (its adapters load `begin_with`'s rows)."""
        return self.shared[psycopg.Cursor]

    @contextmanager
    def lend(self, kind: type[psycopg.Cursor[Any]]) -> Iterator[Any]:
        """The shared cursor of `kind`, or a fresh one while it is lent out."""
        if kind in self.lent:
            with kind(self.driver) as fresh:
                yield fresh
            return
        self.lent.add(kind)
        try:
            yield self.shared[kind]
        finally:
            self.lent.discard(kind)


# Keyed by Django's connection (one per thread and alias), each holding the cursors of the
# driver connection it has now: a reconnect gets new ones, and the old go with the old driver.
_cursors: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Cursors] = weakref.WeakKeyDictionary()


def _compiled_timestamps(driver: psycopg.Connection[Any], wrapper: BaseDatabaseWrapper) -> bool:
    """Whether psycopg's own `timestamptz` loader gives what Django's does on this connection:
    Django's parses in Python and sets its time zone on the result; psycopg's (compiled) gives
    the instant in the session's time zone, the same value when the session is in Django's
    (Django sets it so on connecting; both are UTC by default)."""
    wanted = getattr(wrapper, "timezone", None)
    return wanted is not None and driver.info.timezone == wanted


def _shared(wrapper: BaseDatabaseWrapper) -> _Cursors:
    """The reusable cursors of `wrapper`'s driver connection, connecting if need be."""
    wrapper.ensure_connection()
    driver: psycopg.Connection[Any] = wrapper.connection
    cursors = _cursors.get(wrapper)
    if cursors is None or cursors.driver is not driver:
        cursors = _cursors[wrapper] = _Cursors(driver, wrapper)
    return cursors


@contextmanager
def pg_cursor(using: str) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
    """A server-side-binding cursor on Django's connection for `using`.

    Errors leave it as Django's own cursors' do (`wrap_database_errors`): a lost connection is
    django.db's OperationalError, which the projection engine and the workers' tasks retry
    (psycopg's own would be an unexpected failure), and Django marks the connection as having
    had errors, so it is checked and closed at the end of the request or task instead of kept
    (tests/integration/test_worker_connections.py). A statement that handles an error itself
    (a unique violation telling a duplicate command from a version conflict) catches psycopg's
    exception inside the block, before it is translated. The cursor is the connection's shared
    one (read its rows inside the block: the next statement replaces them)."""
    connection = connections[using]
    with connection.wrap_database_errors, _shared(connection).lend(psycopg.Cursor) as cursor:
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
    with connection.wrap_database_errors, _shared(connection).lend(psycopg.ClientCursor) as cursor:
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
def _pieces(query: str) -> tuple[bytes, ...]:
    """The text around a query's %s placeholders, split and encoded once per query: parsing
    the template on every command was a measurable share of its Python
    (docs/performance-log.md). The event log's SQL is ASCII, the same bytes in any encoding
    PostgreSQL serves."""
    return tuple(piece.encode("ascii") for piece in query.split("%s"))


class Bound:
    """A %s-placeholder query with its values, quoted as psycopg quotes them when rendered
    (`as_bytes`): all of its values with one adapter lookup context, not one per value."""

    __slots__ = ("params", "pieces")

    def __init__(self, pieces: tuple[bytes, ...], params: Sequence[Any]) -> None:
        self.pieces, self.params = pieces, params

    def as_bytes(self, context: Any = None) -> bytes:
        """The query's text with its values quoted, as psycopg.sql.Composed.as_bytes gives it."""
        return self.render(Transformer.from_context(context))

    def render(self, transformer: abc.Transformer) -> bytes:
        """The query's text with its values quoted by `transformer`."""
        parts = [self.pieces[0]]
        for param, piece in zip(self.params, self.pieces[1:], strict=True):
            parts += [transformer.as_literal(param), piece]
        return b"".join(parts)


def bound(query: str, params: Sequence[Any]) -> Bound:
    """A %s-placeholder query with its values bound client-side (psycopg's quoting)."""
    pieces = _pieces(query)
    if len(pieces) != len(params) + 1:
        raise TypeError(f"the query has {len(pieces) - 1} placeholders, not {len(params)}")
    return Bound(pieces, params)


def begin_with(
    driver: psycopg.Connection[Any], *queries: Bound, wrapper: BaseDatabaseWrapper | None = None
) -> list[list[tuple[Any, ...]]]:
    """BEGIN and the queries in one round trip (the simple query protocol takes them all in one
    message, their values bound client-side by `bound`): each query's rows, loaded as the
    connection's shared cursors load them.

    psycopg would otherwise send BEGIN alone and wait for it. It sees the transaction open
    afterwards (the connection's status is the server's) and sends no BEGIN of its own; the
    commit or rollback is Django's, as for any transaction. `wrapper`, Django's connection
    around `driver`, says which time zone its rows' timestamps load in (without it, as the
    driver's own adapters load them)."""
    # One adapter context quotes every value and loads every row: the shared cursor's (its
    # compiled timestamptz loader) when Django's connection is known.
    transformer = Transformer(_shared(wrapper).server if wrapper is not None else driver)
    text = b"; ".join([b"BEGIN", *(query.render(transformer) for query in queries)])
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
    rows = []
    for result in results[1:]:
        transformer.set_pgresult(result)
        rows.append(transformer.load_rows(0, result.ntuples, tuple))
    return rows
