"""A Celery worker reuses its PostgreSQL connections across tasks (config/celery.py).

The worker's databases are reached through a TCP proxy that counts the connections it
accepts: however many tasks run, the worker opens at most one connection per pool process
and database, and a connection the network broke is replaced, not reused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from config.celery import app as celery_app
from projector.tasks import project_partition
from tests.support.convergence import converged
from tests.support.faults import TcpProxy
from tests.support.services import Service, celery
from tests.support.waiting import eventually
from tests.support.workload import drive_orders

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 2  # conftest.celery's --concurrency


def tasks_done(count: int) -> bool:
    """The worker has started at least `count` project_partition tasks and runs none now."""
    inspect = celery_app.control.inspect(timeout=1.0)
    stats: dict[str, Any] = inspect.stats() or {}
    started = sum(int(s.get("total", {}).get("projector.project_partition", 0)) for s in stats.values())
    active: dict[str, list[Any]] = inspect.active() or {}
    return started >= count and not any(active.values())


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    params = connections["default"].settings_dict
    proxy = TcpProxy(params.get("HOST") or "127.0.0.1", int(params.get("PORT") or 5432))
    proxy.restore()
    yield proxy
    proxy.cut()


@pytest.fixture
def proxied_worker(worker_env: None, proxy: TcpProxy, tmp_path: Path) -> Iterator[Service]:
    """A worker whose every database connection goes through `proxy`, keeping them CONN_MAX_AGE."""
    urls = {
        "DATABASE_URL" if alias == "default" else "READ_DATABASE_URL": proxy.url(
            "postgres", f"/{connections[alias].settings_dict['NAME']}"
        ).replace("://", "://postgres@")
        for alias in connections.databases
    }
    service = celery("worker", tmp_path, CONN_MAX_AGE="600", **urls)
    service.start()
    yield service
    service.stop()


def test_a_worker_opens_no_connection_per_task(proxied_worker: Service, proxy: TcpProxy) -> None:
    drive_orders(3)
    eventually(converged, message="the worker to project the first orders", log=proxied_worker.log)
    opened = proxy.accepted
    tasks = 40
    for n in range(tasks):
        project_partition.apply_async((n % 4,))
    eventually(lambda: tasks_done(tasks + 1), message=f"{tasks} more tasks to run", log=proxied_worker.log)
    # Celery's own fixup closed every connection around every task: 40 tasks opened 40+.
    assert proxy.accepted - opened <= CONCURRENCY * len(connections.databases)


def test_a_broken_connection_is_replaced_at_the_next_task(proxied_worker: Service, proxy: TcpProxy) -> None:
    drive_orders(2)
    eventually(converged, message="the worker to project the first orders", log=proxied_worker.log)
    proxy.cut()  # every kept connection breaks under the worker
    proxy.restore()
    drive_orders(2, seed=2)
    eventually(converged, message="projection over new connections", log=proxied_worker.log)
