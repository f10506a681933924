"""Coalescing doorbells on real Redis and a real worker: commits that find a ring already
waiting send none of their own, and nothing is lost by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector.partitions import partition_count
from tests.support.convergence import converged
from tests.support.services import celery, waiting_tasks
from tests.support.waiting import eventually
from tests.support.workload import drive_orders

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_commits_share_one_waiting_doorbell_per_partition_and_lose_nothing(
    worker_env: None, coalescing: str, tmp_path: Path
) -> None:
    cache_url = coalescing

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
