"""The machine's CPU over a benchmark's load, by kind of process: what an order costs in CPU.

Read from /proc (Linux), user + system time, so a busy machine's neighbours are not counted
in a side's figure except where a service is shared (Redis, PostgreSQL's own background work):

* each of the stack's process groups (gunicorn, the Celery worker, the CRUD service's
  gunicorn): every process in its session, children that exited and were reaped included
  (their time is in their parent's cutime/cstime), at the load's start and end;
* the load's client: this process (its threads), `os.times()`;
* PostgreSQL: the backends connected to the stack's database, sampled every
  `interval` seconds from pg_stat_activity (a backend that ends between two samples loses
  at most an interval of its time; the sampler's own backend is left out); the server's
  background processes (WAL writer, checkpointer, autovacuum) are shared by every database
  and are not in it;
* Redis: the whole redis-server process (shared by every Redis database on the machine: an
  upper bound when others use it).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")
CLIENT = "client"
POSTGRESQL = "postgresql"
REDIS = "redis"


def _fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (state is [0]), or None if it ended."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _seconds(fields: list[str], *, children: bool) -> float:
    """utime + stime (fields 14, 15 of stat), with cutime + cstime (16, 17) if `children`."""
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def _pids() -> Iterator[int]:
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def session_seconds(sessions: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of every process in each named session (reaped children included)."""
    totals = dict.fromkeys(sessions, 0.0)
    named = {sid: name for name, sid in sessions.items()}
    for pid in _pids():
        fields = _fields(pid)
        if fields is not None and int(fields[3]) in named:
            totals[named[int(fields[3])]] += _seconds(fields, children=True)
    return totals


def redis_seconds() -> float:
    """CPU seconds so far of every redis-server process on the machine."""
    total = 0.0
    for pid in _pids():
        with contextlib.suppress(OSError):
            if (PROC / str(pid) / "comm").read_text().strip() == "redis-server":
                fields = _fields(pid)
                total += _seconds(fields, children=False) if fields else 0.0
    return total


def client_seconds() -> float:
    times = os.times()
    return times.user + times.system


class _Backends(threading.Thread):
    """Samples the CPU of the backends connected to one database until stopped."""

    def __init__(self, database_url: str, interval: float) -> None:
        super().__init__(daemon=True, name="backend-cpu")
        self.database_url, self.interval = database_url, interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.halt = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.database_url, autocommit=True, connect_timeout=5) as conn:
                own = conn.info.backend_pid
                query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s"
                started = True
                while True:
                    self._sample([row[0] for row in conn.execute(query, (own,)).fetchall()], started)
                    started = False
                    self.ready.set()
                    if self.halt.wait(self.interval):
                        self._sample([row[0] for row in conn.execute(query, (own,)).fetchall()], False)
                        return
        finally:
            self.ready.set()

    def _sample(self, pids: list[int], started: bool) -> None:
        for pid in pids:
            fields = _fields(pid)
            if fields is None:
                continue
            seconds = _seconds(fields, children=False)
            # A backend already there when sampling began counts from then; a later one from its birth.
            self.first.setdefault(pid, seconds if started else 0.0)
            self.last[pid] = seconds

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


class ProcessCpu:
    """`with ProcessCpu({"web": sid, ...}, database_url): load()`, then `.seconds()`: the CPU
    seconds each kind of process spent inside the block."""

    def __init__(self, sessions: Mapping[str, int], database_url: str, interval: float = 0.25) -> None:
        self.sessions = dict(sessions)
        self.backends = _Backends(database_url, interval) if database_url.startswith("postgres") else None
        self.start: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {**session_seconds(self.sessions), CLIENT: client_seconds(), REDIS: redis_seconds()}

    def __enter__(self) -> ProcessCpu:
        if self.backends is not None:
            self.backends.start()
            self.backends.ready.wait(10)
        self.start = self._now()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        end = self._now()
        self.spent = {name: end[name] - self.start[name] for name in end}
        if self.backends is not None:
            self.backends.halt.set()
            self.backends.join(10)
            self.spent[POSTGRESQL] = self.backends.seconds()

    def seconds(self) -> dict[str, float]:
        """CPU seconds by kind: the sessions' names, client, postgresql, redis, and their total."""
        figures = {name: round(value, 2) for name, value in self.spent.items()}
        return figures | {"total": round(sum(self.spent.values()), 2)}


def per_order_ms(seconds: Mapping[str, float], orders: int) -> dict[str, float]:
    """CPU milliseconds an order, by kind (the load's `orders`)."""
    return {name: round(value * 1000 / orders, 1) for name, value in seconds.items()} if orders else {}
