"""`rebuild_live`: `manage.py rebuild_projections` replays a large log while a client commits
at a fixed rate, and a real Celery worker keeps the live read models up to date.

What it shows: how long each command takes to become visible in OrderSummary while the
rebuild runs (the blue/green rebuild must not hold live projection back, docs/architecture.md),
that readers never see fewer rows than before (never a half-built table), and the
rebuild's own duration and peak RSS.
"""

from __future__ import annotations

import resource
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

from bench.phases.common import ROOT, event_count
from bench.phases.lag import Watcher, _celery, _wait_for_worker, _windows, stop_celery
from bench.phases.project import synthesize
from bench.phases.read import vacuum_read_models
from bench.spec import latency_figures
from bench.workload import workload
from config.celery import app as celery_app
from eventlog.store import event_store
from projector.loop import all_partitions, read_database
from projector.models import ProjectionCheckpoint
from projector.rebuild_progress import rebuild_by_name
from projector.registry import all_projections
from readmodels.models import OrderSummary
from writeside.bus import handle

READER_PAUSE_S = 1.0  # a count over 250,000 rows takes tens of ms: leave the CPU to the rest


class RowCounter(threading.Thread):
    """Counts OrderSummary rows on its own connection, over and over, keeping the fewest seen."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.fewest: int | None = None
        self.reads = 0
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.is_set():
                rows = OrderSummary.objects.using(read_database()).count()
                self.fewest = rows if self.fewest is None else min(self.fewest, rows)
                self.reads += 1
                time.sleep(READER_PAUSE_S)
        finally:
            connections.close_all()


def current_beyond_rebuilds() -> None:
    """Start the consumers no rebuild touches (the process manager, which sends commands) at
    the log's head. The synthetic log was copied in without them seeing it; in production
    they are current. Left at 0, the measured phase would time their catch-up of a million
    events they never had (a worker's tasks busy with it, every live doorbell waiting behind
    them), not the rebuild."""
    head = event_store().head_position()
    names = [name for name, projection in all_projections().items() if not projection.rebuildable]
    for name in names:
        for partition in all_partitions():
            ProjectionCheckpoint.objects.using(read_database()).update_or_create(
                projection=name, partition=partition, defaults={"position": head}
            )


def settle() -> None:
    """What a live database would have done to the log and tables just written: VACUUM
    ANALYZE them (autovacuum; it may be off on a bench server) and a CHECKPOINT, so the
    measured rebuild does not also pay for the setup's own writes (hint bits on a million
    freshly copied rows, the checkpoint of gigabytes of WAL)."""
    vacuum_read_models()
    with connections["default"].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE eventlog_storedevent")
    for alias in {"default", read_database()}:
        with connections[alias].cursor() as cursor:
            cursor.execute("CHECKPOINT")


def rebuild_live(events: int, rate: float, seed: int, logs: Path) -> dict[str, Any]:
    """Rebuild every projection over a log of at least `events` events while commands arrive
    at `rate`/s; visibility of those commands, the rebuild's duration and peak RSS."""
    if not settings.CELERY_BROKER_URL:
        raise RuntimeError("the rebuild_live phase needs CELERY_BROKER_URL (make bench sets one)")
    synthesized = synthesize(events, seed)
    with override_settings(NOTIFICATION_MAX_AGE_SECONDS=0):  # as `project`: no emails owed to nobody
        rebuild_by_name([])  # caught-up read models to start from, as in production
    current_beyond_rebuilds()
    settle()
    rows_before = OrderSummary.objects.using(read_database()).count()
    log_events = event_count()
    queue = f"bench-rebuild-{uuid.uuid4().hex[:8]}"
    previous, celery_app.conf.task_default_queue = celery_app.conf.task_default_queue, queue
    logs.mkdir(parents=True, exist_ok=True)
    processes = [
        _celery("worker", queue, logs / "rebuild-worker.log"),
        _celery("beat", queue, logs / "rebuild-beat.log"),
    ]
    commands = iter(workload(10**6, seed + 5000, fresh_ids=True))
    watcher, counter = Watcher(), RowCounter()
    try:
        _wait_for_worker(queue, processes[0], deadline_s=60.0)
        watcher.start()
        counter.start()
        with (logs / "rebuild.log").open("wb") as output:
            rebuilding = subprocess.Popen(
                [sys.executable, "manage.py", "rebuild_projections"],
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            start = time.perf_counter()
            sent = 0
            with override_settings(PROJECTIONS_INLINE=False):
                while rebuilding.poll() is None:
                    time.sleep(max(0.0, start + sent / rate - time.perf_counter()))
                    result = handle(next(commands))
                    watcher.committed(UUID(result.stream_id), result.version)
                    sent += 1
            rebuild_s = time.perf_counter() - start
            # The only child waited for so far: its peak RSS (kB on Linux).
            rebuild_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if rebuilding.returncode != 0:
            raise RuntimeError(f"rebuild_projections exited with {rebuilding.returncode}; see {logs / 'rebuild.log'}")
        watcher.done.set()
        watcher.join(60)
    finally:
        watcher.done.set()
        watcher.abort.set()
        counter.done.set()
        stop_celery(processes, queue, previous)
    counter.join(10)
    lags_ms = [lag_s * 1000 for _, lag_s in watcher.seen]
    overall = latency_figures(lags_ms, rebuild_s, "visible")
    return {
        "events": log_events,
        "synthesized": synthesized,
        "rebuild_s": round(rebuild_s, 1),
        "rebuild_events_per_s": round(log_events / rebuild_s, 1),
        "rebuild_peak_rss_mb": round(rebuild_rss_mb, 1),
        "rate_per_s": rate,
        "achieved_rate_per_s": round(sent / rebuild_s, 1),
        "commands": sent,
        "visible": len(lags_ms),
        "not_visible_after_deadline": len(watcher.pending),
        "p50_s": round(overall["p50_ms"] / 1000, 4),
        "p99_s": round(overall["p99_ms"] / 1000, 4),
        "max_s": round(overall["max_ms"] / 1000, 4),
        "summary_rows_before": rows_before,
        "summary_rows_fewest_seen": counter.fewest,
        "row_counts_read": counter.reads,
        "windows_ms": _windows(watcher.seen, start),
    }
