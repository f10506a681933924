"""Guarantees 4-8 with a real Celery worker, broker and PostgreSQL: every committed event
reaches every projection exactly once in effect, whatever happens to the messages."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from eventlog.buckets import bucket_of
from eventlog.store import EventStore
from projector.models import ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.rebuild_progress import rebuild_by_name
from projector.tasks import project_partition
from tests.support.convergence import converged
from tests.support.read_side import counted_statuses, read_models, summaries_by_status
from tests.support.services import ROOT, Service, celery, service_env
from tests.support.waiting import eventually
from tests.support.workload import drive_orders

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def assert_equal_to_rebuild() -> None:
    """Live read models equal what a rebuild from the event log produces."""
    live = read_models()
    rebuild_by_name([])
    assert read_models() == live


def test_worker_projects_committed_commands_and_matches_a_rebuild(worker: Service) -> None:
    ids = drive_orders(25)
    eventually(converged, message="the worker to project every event")
    assert len(read_models()["summary"]) == len(ids)
    # Two worker processes, four partitions in parallel: no status change lost or counted twice.
    assert counted_statuses() == summaries_by_status()
    assert_equal_to_rebuild()


def test_broker_unreachable_at_commit_loses_nothing(worker_env: None, tmp_path: Path) -> None:
    script = "from tests.support.workload import drive_orders; drive_orders(6, seed=2)"
    bad_broker = service_env(CELERY_BROKER_URL="redis://127.0.0.1:9/0", LOG_LEVEL="WARNING")
    run = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=bad_broker, capture_output=True, timeout=120
    )
    assert run.returncode == 0, run.stderr.decode()  # commands committed despite the broker
    assert b"Could not enqueue" in run.stderr
    head = EventStore().head_position()
    assert head > 6
    assert not converged()  # the doorbells were lost: nothing was projected
    worker, beat = celery("worker", tmp_path), celery("beat", tmp_path, CATCH_UP_INTERVAL_SECONDS="0.5")
    worker.start()
    beat.start()
    try:
        eventually(converged, message="beat's catch-up to project the events whose doorbell was lost")
    finally:
        beat.stop()
        worker.stop()
    assert_equal_to_rebuild()


def test_same_doorbell_delivered_many_times_applies_each_event_once(worker: Service) -> None:
    drive_orders(12, seed=3)
    # Redelivery and duplicates: many copies of every partition's task, racing each other.
    for _ in range(5):
        for partition in range(4):
            project_partition.apply_async((partition,))
    eventually(converged, message="convergence")
    assert counted_statuses() == summaries_by_status()
    assert_equal_to_rebuild()  # stats are increments: a double application would show here


def test_tasks_delivered_in_reverse_order_keep_per_order_order(worker_env: None, tmp_path: Path) -> None:
    drive_orders(10, seed=4)  # no worker: the doorbells queue up
    worker = celery("worker", tmp_path)
    for partition in reversed(range(4)):
        project_partition.apply_async((partition,), countdown=0)
    worker.start()
    try:
        eventually(converged, message="convergence")
    finally:
        worker.stop()
    assert_equal_to_rebuild()


def test_many_concurrent_writers_while_projecting_miss_nothing(worker: Service) -> None:
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        try:
            drive_orders(10, seed=seed)
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connections to every database

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(10, 15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    eventually(converged, message="convergence after concurrent writers")
    assert len(read_models()["summary"]) == 50
    assert_equal_to_rebuild()


def test_worker_killed_mid_batch_leaves_nothing_half_applied(worker: Service, tmp_path: Path) -> None:
    first = drive_orders(4, seed=5)
    eventually(converged, message="initial convergence")
    before = read_models()
    blocked = ProjectionCheckpoint.objects.filter(
        projection="orders", partition=partition_of_bucket(bucket_of(str(first[0])))
    )
    checkpoint = blocked.get().position
    params = connections["read" if "read" in connections.databases else "default"].settings_dict
    # Hold a lock on one order's summary row so the worker's batch stops half way through.
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=params["NAME"], autocommit=False) as blocker:
        blocker.execute("SELECT 1 FROM readmodels_ordersummary WHERE order_id = %s FOR UPDATE", [first[0]])
        from orders.commands import CancelOrder
        from writeside.bus import handle

        handle(CancelOrder(order_id=first[0], reason="stuck"))
        drive_orders(3, seed=6)
        for partition in range(4):
            project_partition.apply_async((partition,))

        # Polled from its own autocommit connection: inside a transaction PostgreSQL keeps
        # serving the first pg_stat_activity snapshot it took.
        watcher = psycopg.connect(host="127.0.0.1", user="postgres", dbname=params["NAME"], autocommit=True)

        def worker_waits_on_lock() -> bool:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s",
                [params["NAME"]],
            ).fetchone()
            return bool(row and row[0])

        eventually(worker_waits_on_lock, message="the worker to block mid-batch", log=worker.log)
        watcher.close()
        worker.kill()
        blocker.rollback()
    # The killed batch committed nothing: its partition's checkpoint and rows are as before
    # (other partitions may have moved on; they never waited on the lock).
    assert blocked.get().position == checkpoint
    assert [row for row in read_models()["summary"] if row["order_id"] == first[0]] == [
        row for row in before["summary"] if row["order_id"] == first[0]
    ]
    restarted, beat = celery("worker", tmp_path), celery("beat", tmp_path, CATCH_UP_INTERVAL_SECONDS="0.5")
    restarted.start()
    beat.start()
    try:
        eventually(converged, message="convergence after the crash")
    finally:
        beat.stop()
        restarted.stop()
    assert_equal_to_rebuild()
