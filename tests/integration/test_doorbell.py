"""Coalescing doorbells on real Redis and a real worker: commits that find a ring already
waiting send none of their own, and nothing is lost by it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.celery import app as celery_app
from eventlog.store import EventStore
from readmodels.partitions import partition_count
from readmodels.status import applied_through
from tests.integration.conftest import QUEUE, celery, eventually
from tests.integration.workload import drive_orders

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def converged() -> bool:
    """Every projection has applied the whole log."""
    return applied_through(EventStore().head_position())


def waiting_tasks() -> int:
    """Messages waiting in this session's queue on the broker."""
    with celery_app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # kombu's stub types it as the bare protocol
        return int(channel.queue_declare(QUEUE, passive=True).message_count)


def test_commits_share_one_waiting_doorbell_per_partition_and_lose_nothing(
    worker_env: None, settings: Any, tmp_path: Path
) -> None:
    # Redis even when the broker is RabbitMQ: the marks must be shared with the worker.
    cache_url = settings.CACHE_URL or "redis://127.0.0.1:6379/0"
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": cache_url}}
    settings.DOORBELL_COALESCING = True
    # Longer than the test: a mark the worker failed to clear would hold back the last commits.
    settings.DOORBELL_PENDING_SECONDS = 600

    drive_orders(10, seed=7)  # 40 commits and no worker yet
    assert 1 <= waiting_tasks() <= partition_count()

    worker = celery("worker", tmp_path, CACHE_URL=cache_url, DOORBELL_COALESCING="true")
    worker.start()
    try:
        eventually(converged, message="the coalesced doorbells to project all 40 commits", log=worker.log)
        # The worker cleared each mark before reading: later commits ring again.
        drive_orders(2, seed=8)
        eventually(converged, message="commits after the answer to ring again", log=worker.log)
    finally:
        worker.stop()
