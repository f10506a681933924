"""Reading the log in batches for a rebuild, optionally ahead in a second thread.

Guarantee: the batches are the log up to a fixed head, in position order, each event once,
the same whether read ahead or in line; reading ahead happens only when another connection
sees exactly what the caller's would (PostgreSQL, and the caller in no transaction on the
log's database), and closing the batches ends the reader thread and its connection.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Protocol

from django.db import connections

from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore


def can_read_ahead(store: EventStore) -> bool:
    """True if another connection sees the same log as this one: PostgreSQL, and no open
    transaction of the caller's on the log's database (it may hold events no one else sees)."""
    connection = connections[store.using]
    return connection.vendor == "postgresql" and not connection.in_atomic_block


class Batches(Iterator[list[RecordedEvent]], Protocol):
    """Batches of the log that must be closed (to end a reader thread and its connection)."""

    def close(self) -> None:
        """Stop reading; the batches not taken yet are not read."""


def log_batches(store: EventStore, head: int, size: int, *, read_ahead: bool) -> Batches:
    """The log up to `head` in batches of `size`, in position order; close it when done.

    With `read_ahead` each batch is read and decoded in a second thread, on a connection
    of its own, while the caller works (the first from this call on, the next while the
    caller applies this one): the thread waits on the socket with the GIL released, so
    reading overlaps the projections' writes. Every event up to `head` is committed
    (positions are assigned under the append lock, in commit order), so the other
    connection sees what this one would (see can_read_ahead).
    """
    return _ReadAhead(store, head, size) if read_ahead else _in_line(store, head, size)


def _in_line(store: EventStore, head: int, size: int) -> Generator[list[RecordedEvent], None, None]:
    cursor = 0
    while cursor < head and (events := store.read_all(cursor, limit=size, to_position=head)):
        yield events
        cursor = events[-1].position


class _ReadAhead:
    """log_batches with `read_ahead`: the reading of the first batch starts on construction."""

    def __init__(self, store: EventStore, head: int, size: int) -> None:
        self._read = partial(store.read_all, limit=size, to_position=head)
        self._head = head
        self._reader: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="rebuild-reader")
        self._pending: Future[list[RecordedEvent]] | None = self._reader.submit(self._read, 0)

    def __iter__(self) -> _ReadAhead:
        return self

    def __next__(self) -> list[RecordedEvent]:
        try:
            events = self._pending.result() if self._pending is not None else []
        except BaseException:
            self.close()
            raise
        if not events or self._reader is None:
            self.close()
            raise StopIteration
        last = events[-1].position
        self._pending = self._reader.submit(self._read, last) if last < self._head else None
        return events

    def close(self) -> None:
        """Cancel a read not started, wait for one running, and close the thread's connection."""
        reader, self._reader = self._reader, None
        if reader is None:
            return
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        reader.submit(connections.close_all).result()
        reader.shutdown()
