"""Fixtures for the read side on the real services: a Celery worker and beat as subprocesses
on the test databases, and snapshots of read-model tables to compare with a rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.db.models import Count

from config.celery import app as celery_app
from notifications.sending import sending_key
from projector import doorbell, running
from projector.loop import all_partitions, read_database
from readmodels.models import (
    CatalogName,
    CustomerLifetimeValue,
    CustomerOrderStats,
    DailySales,
    OrderDetail,
    OrderStatusCount,
    OrderSummary,
)

ROOT = Path(__file__).resolve().parents[2]
QUEUE = f"test-{uuid.uuid4().hex[:8]}"


def _url(alias: str) -> str:
    params = connections[alias].settings_dict
    host, port = params.get("HOST") or "127.0.0.1", params.get("PORT") or 5432
    return f"postgres://{params.get('USER') or 'postgres'}@{host}:{port}/{params['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess that works on this session's test databases and queue."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_url("default"),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_DEFAULT_QUEUE=QUEUE,
        PROJECTIONS_INLINE="false",
        CONN_MAX_AGE="0",
    )
    env.update(extra)
    if "read" in settings.DATABASES:
        env["READ_DATABASE_URL"] = _url("read")
    return env


class Service:
    """A Celery worker or beat process, killable like a crashed host."""

    def __init__(self, args: list[str], log: Path, ready: str, env: dict[str, str]) -> None:
        self.args, self.log, self.ready, self.env = args, log, ready, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 40) -> None:
        """Start and wait (bounded) until the process says it is ready."""
        handle = self.log.open("ab")
        offset = self.log.stat().st_size
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while self.ready not in self.log.read_text(errors="replace")[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.args[3]} did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no acks, like a power cut."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Ask the process group to stop, killing it if it does not."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def celery(kind: str, tmp: Path, **env: str) -> Service:
    """A `celery worker` or `celery beat` process for this session's queue (or the
    CELERY_TASK_DEFAULT_QUEUE given in `env`)."""
    binary = str(Path(sys.executable).with_name("celery"))
    if kind == "worker":
        queue = env.get("CELERY_TASK_DEFAULT_QUEUE", QUEUE)
        args = [binary, "-A", "config", "worker", "-Q", queue, "--concurrency=2", "--without-gossip"]
        args += ["--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
        ready = "ready."
    else:
        args = [binary, "-A", "config", "beat", f"--schedule={tmp / 'beat-schedule'}", "--loglevel=INFO"]
        ready = "beat: Starting"
    return Service(args, tmp / f"{kind}.log", ready, service_env(**env))


@pytest.fixture(name="running")
def started_services() -> Iterator[list[Service]]:
    """Services the test starts, stopped at its end whatever happens."""
    services: list[Service] = []
    yield services
    for service in services:
        service.stop()


@pytest.fixture
def worker_env(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands in this test ring Celery (this session's queue) instead of projecting inline."""
    settings.PROJECTIONS_INLINE = False
    celery_app.conf.task_default_queue = QUEUE
    # A failed publish in an earlier test must not silence this test's doorbells.
    monkeypatch.setattr(running, "_broker_down_until", 0.0)
    # Nor may the rings an earlier test left in the queue (its worker is gone) count as this
    # test's: a test that counts waiting tasks saw them (test_doorbell after test_projection_worker).
    empty_queue()


@pytest.fixture
def coalescing(settings: Any, worker_env: None) -> str:
    """Coalescing doorbells on Redis (even when the broker is RabbitMQ: the marks must be
    shared with the worker); returns the cache URL to hand the worker."""
    cache_url = settings.CACHE_URL or "redis://127.0.0.1:6379/0"
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": cache_url}}
    settings.DOORBELL_COALESCING = True
    # Longer than any test: a mark the worker failed to clear would hold work back and show.
    settings.DOORBELL_PENDING_SECONDS = 600
    # An earlier test's marks on this session's queue, left when its worker stopped, would
    # hold this test's rings back for as long.
    clear_doorbell_marks()
    return str(cache_url)


def empty_queue() -> None:
    """Drop the messages waiting in this session's queue, if it exists yet, and the doorbell
    marks that said a ring was waiting there (kept, they would stop the next commits ringing)."""
    clear_doorbell_marks()
    with celery_app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        try:
            channel.queue_declare(QUEUE, passive=True)
        except Exception:  # not declared yet (the broker's own not-found error): nothing waits
            return
        channel.queue_purge(QUEUE)


def clear_doorbell_marks() -> None:
    """Clear the pending-ring marks of this session's queue (the partitions' and the email
    sender's), as a worker answering them does."""
    for key in [*(running.partition_key(partition) for partition in all_partitions()), sending_key()]:
        doorbell.answering(key)


def waiting_tasks() -> int:
    """Messages waiting in this session's queue on the broker."""
    with celery_app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # kombu's stub types it as the bare protocol
        return int(channel.queue_declare(QUEUE, passive=True).message_count)


@pytest.fixture
def worker(worker_env: None, tmp_path: Path) -> Iterator[Service]:
    """A running Celery worker on the test databases."""
    service = celery("worker", tmp_path)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def beat(worker_env: None, tmp_path: Path) -> Iterator[Service]:
    """A running Celery beat ringing the catch-up every half second."""
    service = celery("beat", tmp_path, CATCH_UP_INTERVAL_SECONDS="0.5")
    service.start()
    yield service
    service.stop()


def read_models() -> dict[str, list[dict[str, Any]]]:
    """Every read-model row (minus surrogate ids), sorted, for comparing two states."""
    using = read_database()
    tables: dict[str, Any] = {
        "summary": OrderSummary.objects.using(using).values(),
        "detail": OrderDetail.objects.using(using).values(),
        "catalog": CatalogName.objects.using(using).values(),
        # A status that dropped back to none keeps a zero row live, and a rebuild may not write it.
        "status_counts": OrderStatusCount.objects.using(using).exclude(orders=0).values(),
        "stats": CustomerOrderStats.objects.using(using).values(),
        "lifetime": CustomerLifetimeValue.objects.using(using).values("customer_id", "currency", "amount"),
        "daily": DailySales.objects.using(using).values(
            "day", "currency", "orders_placed", "orders_paid", "revenue", "cancellations", "refunded"
        ),
    }
    return {
        name: sorted(rows, key=lambda row: sorted((k, str(v)) for k, v in row.items())) for name, rows in tables.items()
    }


def counted_statuses() -> dict[str, int]:
    """OrderStatusCount's non-zero totals."""
    return dict(OrderStatusCount.objects.using(read_database()).exclude(orders=0).values_list("status", "orders"))


def summaries_by_status() -> dict[str, int]:
    """The same totals, counted from OrderSummary's rows."""
    rows = OrderSummary.objects.using(read_database()).order_by().values("status").annotate(n=Count("order_id"))
    return {row["status"]: row["n"] for row in rows}


def eventually(
    condition: Callable[[], bool], timeout: float = 30, message: str = "condition", log: Path | None = None
) -> None:
    """Poll `condition` until it holds, failing the test at the deadline (with a log's tail)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            pytest.fail(f"Timed out after {timeout}s waiting for {message}\n{tail}")
        time.sleep(0.05)


# A test of a guarantee both databases keep, run once in each one's run (`vendor` is the one
# the run is on; `postgres` fails a PostgreSQL case run elsewhere).
ON_BOTH_DATABASES = pytest.mark.parametrize(
    "vendor",
    [pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("sqlite", marks=pytest.mark.embedded)],
)
