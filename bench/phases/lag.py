"""`lag`: with a real Celery worker and beat, a steady stream of commands at a fixed rate, and
the time from each command's commit to its change being visible in OrderSummary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections
from django.test.utils import override_settings

from bench.phases.common import ROOT, delete_queue
from bench.spec import latency_figures
from bench.workload import workload
from config.celery import app as celery_app
from projector.loop import all_partitions, read_database
from projector.running import run_partition
from readmodels.models import OrderSummary
from writeside.bus import handle

WINDOW_SECONDS = 5.0


def _celery(
    kind: str, queue: str, log: Path, *, node: str | None = None, concurrency: int = 2, **extra_env: str
) -> subprocess.Popen[bytes]:
    """A Celery worker or beat on the bench database, consuming only this run's queue; a
    worker is named `node` (default the queue) so several can run side by side."""
    params = connections["default"].settings_dict
    host = f"{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{params['USER'] or 'postgres'}@{host}/{params['NAME']}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        PROJECTIONS_INLINE="false",
        CATCH_UP_INTERVAL_SECONDS="1",
        DEBUG="false",
        **extra_env,
    )
    args = [str(Path(sys.executable).with_name("celery")), "-A", "config", kind, "--loglevel=WARNING"]
    if kind == "worker":
        args += ["-Q", queue, "-n", f"{node or queue}@%h", f"--concurrency={concurrency}"]
        args += ["--without-gossip", "--without-mingle"]
    else:
        args += [f"--schedule={log}.db"]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_for_worker(
    queue: str, worker: subprocess.Popen[bytes], *, deadline_s: float, node: str | None = None
) -> None:
    """Block until this run's worker answers a ping, so its start-up (slow on a busy machine)
    is never counted as lag; a fixed sleep let the first seconds' commands wait for it."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError("the lag phase's Celery worker exited while starting; see its log")
        replies = celery_app.control.ping(timeout=1.0) or []
        if any(name.startswith(f"{node or queue}@") for reply in replies for name in reply):
            return
    raise RuntimeError(f"the lag phase's Celery worker did not answer within {deadline_s:.0f}s")


def stop_celery(processes: list[subprocess.Popen[bytes]], queue: str, previous_queue: str) -> None:
    """Stop a run's worker and beat, give Celery its default queue back, delete the run's queue."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(20)
    celery_app.conf.task_default_queue = previous_queue
    delete_queue(queue)


class Watcher(threading.Thread):
    """Polls OrderSummary.version on its own connection until each commit is visible."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.pending: dict[tuple[UUID, int], float] = {}
        self.seen: list[tuple[float, float]] = []  # (commit time, lag in seconds)
        self.lock, self.done, self.abort = threading.Lock(), threading.Event(), threading.Event()

    def committed(self, order_id: UUID, version: int) -> None:
        """Note a commit to wait for."""
        with self.lock:
            self.pending[(order_id, version)] = time.perf_counter()

    def run(self) -> None:
        """Poll every 2 ms until told to stop and nothing is pending."""
        try:
            while not self.abort.is_set() and (not self.done.is_set() or self.pending):
                with self.lock:
                    waiting = dict(self.pending)
                if waiting:
                    ids = {order_id for order_id, _ in waiting}
                    versions = dict(
                        OrderSummary.objects.using(read_database())
                        .filter(order_id__in=ids)
                        .values_list("order_id", "version")
                    )
                    now = time.perf_counter()
                    with self.lock:
                        for key, committed in waiting.items():
                            if versions.get(key[0], 0) >= key[1]:
                                self.seen.append((committed, now - committed))
                                del self.pending[key]
                time.sleep(0.002)
        finally:
            connections.close_all()


def _windows(seen: list[tuple[float, float]], start: float) -> list[dict[str, float]]:
    """p50/p99 of lag per WINDOW_SECONDS of the run, to show whether lag grows."""
    buckets: dict[int, list[float]] = {}
    for committed, lag_s in seen:
        buckets.setdefault(int((committed - start) // WINDOW_SECONDS), []).append(lag_s * 1000)
    return [
        {"from_s": n * WINDOW_SECONDS, **{k: v for k, v in latency_figures(lags, 1, "x").items() if "ms" in k}}
        for n, lags in sorted(buckets.items())
    ]


def lag(rate: float, seconds: float, seed: int, logs: Path, *, deadline_s: float = 30.0) -> dict[str, Any]:
    """Commands at `rate`/s for `seconds`; lag from commit to visible in OrderSummary."""
    if not settings.CELERY_BROKER_URL:
        raise RuntimeError("the lag phase needs CELERY_BROKER_URL (make bench sets redis://127.0.0.1:6379/3)")
    queue = f"bench-lag-{uuid.uuid4().hex[:8]}"
    previous, celery_app.conf.task_default_queue = celery_app.conf.task_default_queue, queue
    logs.mkdir(parents=True, exist_ok=True)
    processes = [_celery("worker", queue, logs / "worker.log"), _celery("beat", queue, logs / "beat.log")]
    commands = list(workload(int(rate * seconds) // 4 + 1, seed, fresh_ids=True))[: int(rate * seconds)]
    watcher = Watcher()
    # Earlier phases append without projecting (the load phase's 10,000-event stream): start
    # from caught-up read models, so this measures the steady state, not a backlog's drain.
    for partition in all_partitions():
        while run_partition(partition):
            pass
    _wait_for_worker(queue, processes[0], deadline_s=60.0)
    watcher.start()
    start = time.perf_counter()
    try:
        with override_settings(PROJECTIONS_INLINE=False):
            for index, command in enumerate(commands):
                time.sleep(max(0.0, start + index / rate - time.perf_counter()))
                result = handle(command)
                watcher.committed(UUID(result.stream_id), result.version)
        sent_s = time.perf_counter() - start
        watcher.done.set()
        watcher.join(deadline_s)
    finally:
        watcher.done.set()
        watcher.abort.set()
        stop_celery(processes, queue, previous)
    lags_ms = [lag_s * 1000 for _, lag_s in watcher.seen]
    overall = latency_figures(lags_ms, sent_s, "visible")
    return {
        "rate_per_s": rate,
        "achieved_rate_per_s": round(len(commands) / sent_s, 1),
        "commands": len(commands),
        "visible": len(lags_ms),
        "not_visible_after_deadline": len(watcher.pending),
        "p50_s": round(overall["p50_ms"] / 1000, 4),
        "p99_s": round(overall["p99_ms"] / 1000, 4),
        "max_s": round(overall["max_ms"] / 1000, 4),
        "windows_ms": _windows(watcher.seen, start),
    }
