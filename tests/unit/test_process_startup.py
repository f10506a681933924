"""A gunicorn worker and a Celery pool process each settle once the application is loaded:
their start-up objects leave the garbage collector's passes (config/startup.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from celery import signals

import config.celery  # noqa: F401  (connects the worker's signals)
from config import gunicorn


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_celery_pool_process_settles_when_it_starts() -> None:
    assert gc.get_freeze_count() == 0
    signals.worker_process_init.send(sender=None)
    assert gc.get_freeze_count() > 10_000


def test_a_gunicorn_worker_settles_once_it_has_loaded_the_application() -> None:
    assert gc.get_freeze_count() == 0
    gunicorn.post_worker_init(worker=None)
    assert gc.get_freeze_count() > 10_000
