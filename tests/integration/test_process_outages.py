"""Long-running processes ride out an outage: cut off from Redis (Celery's broker),
RabbitMQ (the inbound integration broker) or PostgreSQL and let through again, each stays up,
reconnects by itself, and the read side catches up with what was committed meanwhile.

Real processes on the real services, each service behind a proxy the test cuts (established
connections dropped, new ones refused, as while it restarts) and restores. The Celery workers
run as the Procfile runs them: with gossip, mingle and event heartbeats, whose fanout
subscriptions put a worker on the code path where a lost Redis once stopped it.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connections

from eventlog.models import StoredEvent
from tests.support.convergence import converged
from tests.support.faults import TcpProxy
from tests.support.inbound import confirmed_order, consumer, inbound, payment, send  # noqa: F401
from tests.support.rabbit import AMQP_URL, amqp_names  # noqa: F401 (fixture)
from tests.support.services import ROOT, Service, celery, redis_address, service_env
from tests.support.waiting import eventually
from tests.support.workload import drive_orders

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TEST_ONLY_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def as_in_the_procfile(worker: Service) -> Service:
    """The worker with the gossip, mingle and event heartbeats the suite's workers leave out."""
    worker.args = [arg for arg in worker.args if arg not in TEST_ONLY_FLAGS]
    return worker


def logged_since(service: Service, offset: int, *needles: str) -> bool:
    """The service's log, past `offset`, says one of `needles`."""
    text = service.log.read_text(errors="replace")[offset:]
    return any(needle in text for needle in needles)


def alive(service: Service) -> bool:
    return service.process is not None and service.process.poll() is None


@contextmanager
def orders_placed_meanwhile() -> Iterator[None]:
    """Orders placed and moved on in a thread of this process for as long as the block runs."""
    stopping = threading.Event()

    def place() -> None:
        try:
            for seed in itertools.count(100):
                if stopping.is_set():
                    return
                drive_orders(2, seed=seed)
        finally:
            connections.close_all()

    placing = threading.Thread(target=place)
    placing.start()
    try:
        yield
    finally:
        stopping.set()
        placing.join(60)


def worker_and_beat(broker_url: str, tmp_path: Path, running: list[Service]) -> tuple[Service, Service]:
    """A worker as the Procfile runs it and beat (catching up every half second), both on
    `broker_url`, started and listed in `running` (stopped at the end whatever happens)."""
    worker = as_in_the_procfile(celery("worker", tmp_path, CELERY_BROKER_URL=broker_url))
    beat = celery("beat", tmp_path, CELERY_BROKER_URL=broker_url, CATCH_UP_INTERVAL_SECONDS="0.5")
    for service in (worker, beat):
        running.append(service)
        service.start()
    return worker, beat


def test_a_worker_rides_out_a_redis_cut_and_projects_what_was_committed_meanwhile(
    worker_env: None, tmp_path: Path, running: list[Service]
) -> None:
    host, port, database = redis_address()
    with TcpProxy(host, port) as redis:
        # The worker's broker (and cache) through the proxy, beat's too, as on one host where
        # Redis restarts; this process rings Redis directly. Doorbells the worker had fetched
        # but not acknowledged come back only after the visibility timeout, and a ring held
        # back by a pending mark is not repeated: beat's catch-up projects those events.
        url = redis.url("redis", database)
        worker, beat = worker_and_beat(url, tmp_path, running)
        # Orders keep coming up to the cut and during it: the worker is cut off at work, as it
        # was when a lost Redis used to stop it. That took deliveries it had not acknowledged
        # yet, a race: before the fix this test failed in about half of its runs.
        with orders_placed_meanwhile():
            eventually(lambda: logged_since(worker, 0, "succeeded"), message="the worker at work", log=worker.log)
            since = worker.log.stat().st_size
            redis.cut()
            eventually(
                lambda: logged_since(worker, since, "Connection to broker lost") or not alive(worker),
                message="the worker to notice the cut",
                log=worker.log,
            )
            redis.restore()

        # A worker that died will never converge: stop waiting as soon as it has.
        eventually(
            lambda: converged() or not alive(worker),
            timeout=60,
            message="the orders placed during the cut to be projected",
            log=worker.log,
        )
        assert alive(worker), worker.log.read_text(errors="replace")[-4000:]
        for service in (beat, worker):
            service.stop()  # while Redis is reachable: the worker hands back what it holds


def test_beat_rides_out_a_redis_cut_and_its_catch_up_projects_orders_whose_doorbell_was_lost(
    worker_env: None, tmp_path: Path, running: list[Service]
) -> None:
    host, port, database = redis_address()
    with TcpProxy(host, port) as redis:
        url = redis.url("redis", database)
        worker, beat = worker_and_beat(url, tmp_path, running)

        since = beat.log.stat().st_size
        redis.cut()
        # Committed by a process on the same Redis: the commits succeed, their doorbells are lost.
        script = "from tests.support.workload import drive_orders; drive_orders(6, seed=7)"
        commit = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=service_env(CELERY_BROKER_URL=url, LOG_LEVEL="WARNING"),
            capture_output=True,
            timeout=120,
        )
        assert commit.returncode == 0, commit.stderr.decode()
        assert b"Could not enqueue" in commit.stderr
        eventually(
            lambda: logged_since(beat, since, "Connection error", "Message Error", "Unrecoverable"),
            message="beat to fail a send during the cut",
            log=beat.log,
        )
        redis.restore()

        eventually(converged, timeout=60, message="beat's catch-up after the cut", log=beat.log)
        assert alive(beat), beat.log.read_text(errors="replace")[-4000:]
        assert alive(worker), worker.log.read_text(errors="replace")[-4000:]
        for service in (beat, worker):
            service.stop()


def test_the_inbound_consumer_rides_out_a_rabbitmq_cut_and_applies_what_arrived_meanwhile(
    inbound: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    amqp = urlsplit(AMQP_URL)
    with TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672) as rabbit:
        url = f"amqp://{amqp.username}:{amqp.password}@127.0.0.1:{rabbit.port}{amqp.path}"
        process = consumer(tmp_path, inbound, INTEGRATION_BROKER_URL=url)
        process.start()
        try:
            since = process.log.stat().st_size
            rabbit.cut()
            eventually(
                lambda: logged_since(process, since, "integration broker unavailable"),
                message="the consumer to notice the cut",
                log=process.log,
            )
            order_id, total = confirmed_order()
            send(payment(order_id, total))  # straight to RabbitMQ: it waits in the queue
            rabbit.restore()
            eventually(
                lambda: StoredEvent.objects.filter(stream_id=str(order_id), event_type="OrderPaid").count() == 1,
                timeout=60,
                message="the payment sent during the cut",
                log=process.log,
            )
            assert alive(process), process.log.read_text(errors="replace")[-4000:]
        finally:
            process.stop()


def test_a_worker_rides_out_a_postgresql_cut_and_projects_what_was_committed_meanwhile(
    worker_env: None, tmp_path: Path, running: list[Service]
) -> None:
    params = connections["default"].settings_dict
    with TcpProxy(params.get("HOST") or "127.0.0.1", int(params.get("PORT") or 5432)) as postgres:
        # Every database of the worker through the proxy; this process commits directly.
        urls = {
            "DATABASE_URL" if alias == "default" else "READ_DATABASE_URL": postgres.url(
                "postgres", f"/{connections[alias].settings_dict['NAME']}"
            ).replace("://", "://postgres@")
            for alias in connections.databases
        }
        worker = as_in_the_procfile(celery("worker", tmp_path, **urls))
        beat = celery("beat", tmp_path, CATCH_UP_INTERVAL_SECONDS="0.5")
        for service in (worker, beat):
            running.append(service)
            service.start()
        drive_orders(3)
        eventually(converged, message="the worker to project before the cut", log=worker.log)

        since = worker.log.stat().st_size
        postgres.cut()
        drive_orders(10, seed=9)
        eventually(
            lambda: logged_since(worker, since, "OperationalError", "Unrecoverable error"),
            message="the worker to fail on the database",
            log=worker.log,
        )
        postgres.restore()

        eventually(
            lambda: converged() or not alive(worker),
            timeout=60,
            message="the orders placed during the cut to be projected",
            log=worker.log,
        )
        assert alive(worker), worker.log.read_text(errors="replace")[-4000:]
        for service in (beat, worker):
            service.stop()
