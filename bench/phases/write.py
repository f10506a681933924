"""`write` and `write2`: the workload's commands through the bus, from one and from two clients."""

from __future__ import annotations

import multiprocessing
import queue
import time
import uuid
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.conf import settings
from django.test.utils import override_settings

from bench.phases.client import run_client
from bench.phases.common import delete_queue
from bench.spec import latency_figures
from bench.workload import timed, workload
from orders.bus import handle

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
    return {**figures, "doorbell": bool(ring and settings.CELERY_BROKER_URL)}


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
    start.set()
    parts: list[tuple[list[float], float, float]] = []
    while len(parts) < clients:
        try:
            parts.append(results.get(timeout=1))
        except queue.Empty:
            if not all(process.is_alive() for process in processes) and results.empty():
                raise RuntimeError("a write client died; see its traceback above") from None
    for process in processes:
        process.join(30)
    latencies = [value for part, _, _ in parts for value in part]
    wall = max(end for _, _, end in parts) - min(began for _, began, _ in parts)
    return {**latency_figures(latencies, wall, "commands"), "clients": clients}
