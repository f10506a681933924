"""A lock handed to its waiters in the order they asked for it.

The guarantee: a thread waiting for the lock gets it before any thread that asks after it,
so no writer of the embedded default waits while later ones go first. `threading.Lock` makes
no such promise: the thread that releases it can take it again at once, ahead of the threads
it woke, and under a burst of commands one writer could wait out its whole timeout.
"""

from __future__ import annotations

import threading
from collections import deque


class Turns:
    """A mutual-exclusion lock taken in turn: first asked, first served."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._queue: deque[object] = deque()
        self._held = False

    @property
    def waiting(self) -> int:
        """How many threads are waiting for their turn."""
        with self._changed:
            return len(self._queue)

    def acquire(self, timeout: float) -> bool:
        """Take the lock when every thread that asked before has had it; False, and out of
        the queue, if that takes longer than `timeout` seconds."""
        turn = object()
        with self._changed:
            self._queue.append(turn)
            if self._changed.wait_for(lambda: not self._held and self._queue[0] is turn, timeout):
                self._queue.popleft()
                self._held = True
                return True
            self._queue.remove(turn)
            self._changed.notify_all()  # the one behind this may now be first in line
            return False

    def release(self) -> None:
        """Hand the lock to the first thread in line (every waiter looks; only it goes)."""
        with self._changed:
            if not self._held:
                raise RuntimeError("release of a Turns lock that is not held")
            self._held = False
            self._changed.notify_all()
