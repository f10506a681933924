"""Health probes: /health/live answers whatever the dependencies do; /health/ready names every
check and answers 503 when a database is unreachable (a real gunicorn on a closed port) or a
projection lags past READY_MAX_LAG_SECONDS (no worker running), 200 otherwise; over plain
HTTP even when the app redirects everything else to HTTPS. The relay's lag (its broker down)
is reported there and in /metrics, but does not fail readiness: web processes serve without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from projector.loop import all_partitions
from projector.running import run_partition
from tests.factories import CreateOrderFactory
from tests.support.faults import closed_port
from tests.support.http import call
from tests.support.rabbit import amqp_names  # noqa: F401 (fixture)
from tests.support.services import Service, celery, web
from tests.support.waiting import eventually
from writeside.bus import handle


def test_ready_answers_503_naming_the_database_when_its_url_points_at_a_closed_port(
    tmp_path: Path, running: list[Service]
) -> None:
    nowhere = f"postgres://postgres@127.0.0.1:{closed_port()}/backoffice"
    # HTTPS on, as in production: probes come over plain HTTP from inside the network.
    server = web(tmp_path, DATABASE_URL=nowhere, READ_DATABASE_URL="", HTTPS="true")
    running.append(server)
    server.start()
    base: str = server.url  # type: ignore[attr-defined]

    live = call(base, "GET", "/health/live", allow_redirects=False)
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = call(base, "GET", "/health/ready", allow_redirects=False)
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "fail"
    assert body["checks"]["database:default"]["state"] == "down"
    assert body["checks"]["database:default"]["error"] == "OperationalError"
    assert ready.elapsed.total_seconds() < 3  # a refused connection answers at once
    # Everything else is still redirected to HTTPS.
    assert call(base, "GET", "/api/orders/", allow_redirects=False).status_code == 301


@pytest.mark.postgres
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_ready_answers_503_once_the_real_worker_stopped_and_a_projection_lags_past_the_threshold(
    settings: Any, worker_env: None, tmp_path: Path, running: list[Service]
) -> None:
    settings.READY_MAX_LAG_SECONDS = 0.5
    probe = Client()

    def ready() -> tuple[int, dict[str, Any]]:
        answer = probe.get("/health/ready")
        return answer.status_code, answer.json()

    worker = celery("worker", tmp_path)
    running.append(worker)
    worker.start()
    handle(CreateOrderFactory())
    eventually(lambda: ready()[1]["checks"]["projection:orders"]["lag_seconds"] == 0.0, message="the worker to project")
    status, body = ready()
    assert status == 200, body
    assert body["checks"]["database:default"]["state"] == body["checks"]["broker"]["state"] == "up"
    assert body["checks"]["projection:orders"] == {"state": "up", "critical": True, "lag_seconds": 0.0, "limit": 0.5}

    worker.stop()
    handle(CreateOrderFactory())  # the doorbell rings, nobody answers, the event waits
    eventually(
        lambda: ready()[1]["checks"]["projection:orders"]["state"] == "stale", timeout=10, message="the lag to show"
    )
    status, body = ready()
    assert (status, body["status"]) == (503, "fail"), body
    assert body["checks"]["projection:orders"]["state"] == "stale"
    assert body["checks"]["projection:orders"]["lag_seconds"] > 0.5

    for partition in all_partitions():  # what a restarted worker does
        run_partition(partition)
    status, body = ready()
    assert status == 200, body
    assert body["checks"]["beat"]["critical"] is False  # reported, never failing readiness


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_the_integration_broker_down_the_relay_lag_is_reported_but_web_processes_stay_ready(
    settings: Any,
    amqp_names: dict[str, str],  # noqa: F811 (fixture)
) -> None:
    # The relay configured as `make up` configures it (amqp_names), its broker unreachable.
    settings.INTEGRATION_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    settings.INTEGRATION_BROKER_TIMEOUT_SECONDS = 0.5
    settings.PROJECTIONS_INLINE = False
    settings.READY_MAX_LAG_SECONDS = 0.2
    probe = Client()
    handle(CreateOrderFactory())
    for partition in all_partitions():  # a worker: the read models catch up, the relay cannot publish
        run_partition(partition)

    eventually(
        lambda: probe.get("/health/ready").json()["checks"]["projection:relay"]["state"] == "stale",
        timeout=10,
        message="the relay's lag to show",
    )
    answer = probe.get("/health/ready")
    body = answer.json()
    assert (answer.status_code, body["status"]) == (200, "ok"), body
    relay = body["checks"]["projection:relay"]
    assert (relay["critical"], relay["limit"]) == (False, 0.2)
    assert relay["lag_seconds"] > 0.2
    assert body["checks"]["projection:orders"] == {"state": "up", "critical": True, "lag_seconds": 0.0, "limit": 0.2}

    scrape = probe.get("/metrics").content.decode()
    relay_lag = 'backoffice_projection_lag_seconds{projection="relay"}'
    lag = next(line for line in scrape.splitlines() if line.startswith(relay_lag))
    assert float(lag.split()[-1]) > 0.2
    assert 'backoffice_ready{check="projection:relay"} 0.0' in scrape
    assert 'backoffice_ready{check="all"} 1.0' in scrape
