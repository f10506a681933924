"""When the worker has converged: every projection, the process managers included, has applied
the whole log, and the log has stopped growing.

Why both: a process manager's reaction appends events (a cancellation's StockReleased) in the
transaction that moves its checkpoint. Reading the head, then the checkpoints, can see the
manager's checkpoint past the head read and miss the events it appended after that read: the
stock projection has not applied them, yet every checkpoint is at that head (a CI run read a
cancelled order's reservation still held this way). So the head is read again after the
checkpoints, and the log has converged only if it is the same: anything a checkpoint seen
there appended is committed with it, so in that second read.
"""

from __future__ import annotations

from eventlog.store import EventStore
from projector.status import applied_through


def converged() -> bool:
    """Every projection has applied the whole log, and nothing was appended meanwhile."""
    store = EventStore()
    head = store.head_position()
    return applied_through(head) and store.head_position() == head
