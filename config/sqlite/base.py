"""Django's SQLite backend, with the writers of one process served in turn.

The guarantee: a command on the embedded default waits for the writers before it, not for
luck. SQLite lets one writer in at a time (BEGIN IMMEDIATE, config/settings.py) and makes the
others poll, sleeping up to 100 ms between tries; a writer that has waited long sleeps longest
and keeps finding the lock retaken by writers that just arrived, so under a burst of concurrent
commands one of them could wait out the whole timeout and fail with "database is locked" while
the others committed hundreds of times. Here a thread takes a lock of the process (one per
database file) before BEGIN and lets it go when its transaction ends; waiting writers queue on
it and get it in the order they asked (config/sqlite/turns.py), so a writer that has just
committed cannot take it again ahead of one that has waited. The bound is the same as SQLite's: the connection's
`timeout`, then the same OperationalError. Writers in other processes (a management command
beside runserver) still meet SQLite's own lock, as before.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

from config.sqlite.turns import Turns

_locks: dict[str, Turns] = {}
_locks_guard = threading.Lock()


def _write_lock(name: str) -> Turns:
    with _locks_guard:
        return _locks.setdefault(name, Turns())


def writers_waiting(name: str) -> int:
    """How many threads of this process wait for their turn to write to the database file `name`."""
    return _write_lock(name).waiting


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite, its write transactions taken in turn within the process."""

    _writing: Turns | None = None

    def _start_transaction_under_autocommit(self) -> None:
        lock = _write_lock(str(self.settings_dict["NAME"]))
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        if not lock.acquire(timeout=timeout):
            raise OperationalError("database is locked")  # what SQLite says after its timeout
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # not in django-stubs
        except BaseException:
            lock.release()
            raise
        self._writing = lock

    def _done_writing(self) -> None:
        lock, self._writing = self._writing, None
        if lock is not None:
            lock.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # not in django-stubs
        finally:
            self._done_writing()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # not in django-stubs
        finally:
            self._done_writing()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # not in django-stubs
        finally:
            self._done_writing()

    def _set_autocommit(self, autocommit: Any) -> None:
        super()._set_autocommit(autocommit)  # type: ignore[misc]  # not in django-stubs
        if autocommit:
            self._done_writing()  # a transaction is over whichever way it ended
