"""`write` and `write2`: the workload's commands through the bus, from one and from two clients."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import uuid
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connections
from django.test.utils import override_settings

from bench.phases.client import run_client
from bench.phases.common import delete_queue
from bench.spec import latency_figures
from bench.workload import timed, workload
from writeside.bus import handle

# Client processes take orders from disjoint index ranges so they never touch the same order.
CLIENT_STRIDE = 10_000_000


@contextmanager
def doorbell(enabled: bool) -> Any:
    """Commit as in production: with a broker, each commit rings a doorbell on a throwaway
    queue (purged afterwards, no worker reads it); without one, no subscribers at all."""
    if not (enabled and settings.CELERY_BROKER_URL):
        with override_settings(EVENT_SUBSCRIBERS=[]):
            yield
        return
    from config.celery import app

    queue = f"bench-write-{uuid.uuid4().hex[:8]}"
    previous, app.conf.task_default_queue = app.conf.task_default_queue, queue
    try:
        with override_settings(PROJECTIONS_INLINE=False):
            yield
    finally:
        app.conf.task_default_queue = previous
        delete_queue(queue)


def write(orders: int, seed: int, *, ring: bool = True) -> dict[str, Any]:
    """4N commands sequentially from one client: commands/s and p50/p99 latency."""
    commands = list(workload(orders, seed))
    with doorbell(ring):
        figures = timed((partial(handle, command) for command in commands), "commands")
    rings = "projector.dispatch.on_events_committed" in settings.EVENT_SUBSCRIBERS  # off: bench/guarantees.py
    return {**figures, "doorbell": bool(ring and rings and settings.CELERY_BROKER_URL)}


class AppendLockSampler(threading.Thread):
    """Samples pg_locks and pg_stat_activity on its own connection: how busy the append lock
    (eventlog/store.py) is and how often writers queue on it: the figure for that bottleneck."""

    # Held: the lock is granted to a transaction (its utilisation); waiting: writers queued on it.
    SQL = (
        "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())),"
        " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND wait_event = 'advisory')"
    )

    def __init__(self, interval_s: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval_s, self.stop = interval_s, threading.Event()
        self.samples = self.held = self.waiting = self.waiters = 0

    def run(self) -> None:
        """Sample until stopped."""
        try:
            with connections["default"].cursor() as cursor:
                while not self.stop.is_set():
                    cursor.execute(self.SQL)
                    held, waiting = cursor.fetchone()
                    self.samples += 1
                    self.held += 1 if held else 0
                    self.waiting += 1 if waiting else 0
                    self.waiters += waiting
                    time.sleep(self.interval_s)
        finally:
            connections.close_all()

    def figures(self) -> dict[str, Any]:
        """Shares of samples with the append lock held and with a writer waiting for it, and
        the mean number waiting; commands/s divided by the held share estimates the ceiling."""
        if not self.samples:
            return {"append_lock_samples": 0}
        return {
            "append_lock_samples": self.samples,
            "append_lock_held_share": round(self.held / self.samples, 3),
            "append_lock_waiting_share": round(self.waiting / self.samples, 3),
            "append_lock_mean_waiters": round(self.waiters / self.samples, 3),
        }


def write2(orders: int, seed: int, *, clients: int = 2, ring: bool = True) -> dict[str, Any]:
    """The same 4N commands from `clients` OS processes (spawned), each on its own orders."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    share = orders // clients
    processes = [
        context.Process(target=run_client, args=(share, seed + n, CLIENT_STRIDE * (n + 1), ring, start, results))
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    time.sleep(0.5)
    sampler = AppendLockSampler() if connections["default"].vendor == "postgresql" else None
    if sampler is not None:
        sampler.start()
    start.set()
    parts: list[tuple[list[float], float, float]] = []
    while len(parts) < clients:
        try:
            parts.append(results.get(timeout=1))
        except queue.Empty:
            # A client that finished has posted its result already; only a failed or vanished one counts.
            failed = any(process.exitcode not in (None, 0) for process in processes)
            if failed or (not any(process.is_alive() for process in processes) and results.empty()):
                raise RuntimeError("a write client died; see its traceback above") from None
    for process in processes:
        process.join(30)
    lock: dict[str, Any] = {}
    if sampler is not None:
        sampler.stop.set()
        sampler.join(5)
        lock = sampler.figures()
    latencies = [value for part, _, _ in parts for value in part]
    wall = max(end for _, _, end in parts) - min(began for _, began, _ in parts)
    return {**latency_figures(latencies, wall, "commands"), "clients": clients, **lock}
