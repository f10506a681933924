"""The PostgreSQL protocol messages of a stretch of work, as libpq traces them: what the
round-trip tests count (each round trip ends in the server's ReadyForQuery)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


class Wire:
    """The frontend/backend messages of a stretch of work, as libpq traced them."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    @property
    def round_trips(self) -> int:
        """Each round trip ends in the server's ReadyForQuery (a simple query's or a Sync's)."""
        return sum(1 for line in self.lines if line.startswith("B") and "\tReadyForQuery" in line)

    def queries(self, word: str) -> int:
        """Messages from us carrying `word` in their text."""
        return sum(1 for line in self.lines if line.startswith("F") and word in line)


@contextmanager
def wire() -> Iterator[list[Wire]]:
    """Trace the default connection's protocol messages meanwhile (libpq's own trace)."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    captured: list[Wire] = []
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(1)  # no timestamps
        try:
            yield captured
        finally:
            pgconn.untrace()
            os.fsync(trace.fileno())
            trace.seek(0)
            captured.append(Wire(trace.read()))
