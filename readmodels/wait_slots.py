"""At most READ_YOUR_WRITES_WAITS_PER_USER read-your-writes waits per user at once.

A `?min_position=` wait holds a web worker for up to READ_YOUR_WRITES_TIMEOUT. Unbounded, a
few requests for a position the read models are slow to reach would hold every worker and
stall everyone's reads. A request that finds all its user's slots taken does not wait: it
answers with what the read models have, marked stale, as a timed-out wait would.

On PostgreSQL a slot is a session-level advisory lock on the event log's database, so the
bound holds across every web process and host; a lock dies with its connection, so a killed
worker cannot leak a slot. Elsewhere (the embedded SQLite default, one process) slots are
counted in the process.
"""

from __future__ import annotations

import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections

from eventlog.store import event_store

# First key of the two-key advisory lock form, which never overlaps the one-key form that the
# append lock uses; any constant that nothing else in the database uses.
WAIT_SLOT_SPACE = 0x52595752  # "RYWR"

_local_lock = threading.Lock()
_local_waits: Counter[str] = Counter()


def _slot_key(user: str, slot: int) -> int:
    """A signed 32-bit key for (user, slot); a rare collision only shares a slot between users."""
    return zlib.crc32(f"{user}:{slot}".encode()) - 2**31


@contextmanager
def wait_slot(user: str) -> Iterator[bool]:
    """Take one of `user`'s wait slots for the duration; yields False when none is free."""
    slots = int(settings.READ_YOUR_WRITES_WAITS_PER_USER)
    connection = connections[event_store().using]
    if connection.vendor != "postgresql":
        with _local_lock:
            granted = _local_waits[user] < slots
            if granted:
                _local_waits[user] += 1
        try:
            yield granted
        finally:
            if granted:
                with _local_lock:
                    _local_waits[user] -= 1
        return
    taken: int | None = None
    with connection.cursor() as cursor:
        for slot in range(slots):
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [WAIT_SLOT_SPACE, _slot_key(user, slot)])
            if cursor.fetchone()[0]:
                taken = _slot_key(user, slot)
                break
    try:
        yield taken is not None
    finally:
        if taken is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [WAIT_SLOT_SPACE, taken])
