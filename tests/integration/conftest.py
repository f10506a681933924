"""Fixtures for the read side on the real services: a Celery worker and beat as subprocesses
on the test databases, started and stopped around each test that asks for them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.celery import app as celery_app
from eventlog import cold
from projector import running
from tests.support.services import QUEUE, Service, celery, clear_doorbell_marks, empty_queue


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


@pytest.fixture
def cold_storage(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Commands projected as they commit; archive segments in a directory of this test's own
    (the archive tests name it in their pytestmark, and ask for the path when they read it)."""
    settings.PROJECTIONS_INLINE = True
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    cold._cache.clear()  # storages opened under an earlier test's settings
    yield tmp_path
    cold._cache.clear()
