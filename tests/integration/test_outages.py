"""A command needs only PostgreSQL; without PostgreSQL the API says so (503), never a 500 page.

Real processes on the real services: gunicorn serving the app as deployed (DEBUG off), its
Redis (cache, throttles, doorbell marks, broker) behind a proxy the test cuts and restores,
or its database URL on a closed port. The machine's services are never stopped.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tests.support.faults import TcpProxy, closed_port
from tests.support.http import ORDER_BODY, call
from tests.support.services import Service, celery, redis_address, web
from tests.support.waiting import eventually

PROBLEM = "application/problem+json"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_commands_commit_and_the_read_side_catches_up_when_it_returns(
    tmp_path: Path, running: list[Service]
) -> None:
    User.objects.create_superuser("ops", "", "a-long-passphrase-for-ops")
    host, port, database = redis_address()
    with TcpProxy(host, port) as redis:
        redis_url = redis.url("redis", database)
        # A queue of this test's own: its doorbell marks and tasks never reach other tests.
        services = {
            "CELERY_BROKER_URL": redis_url,
            "CACHE_URL": redis_url,
            "CELERY_TASK_DEFAULT_QUEUE": f"outage-{uuid.uuid4().hex[:8]}",
        }
        redis.cut()  # cache, throttles, doorbell marks and broker: all unreachable
        server = web(tmp_path, **services)
        running.append(server)
        server.start()
        base: str = server.url  # type: ignore[attr-defined]

        issued = call(
            base, "POST", "/api/auth/token/", json={"username": "ops", "password": "a-long-passphrase-for-ops"}
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["token"]
        key = {"Idempotency-Key": "outage-1"}
        created = call(base, "POST", "/api/orders/", token, json=ORDER_BODY, headers=dict(key))
        assert created.status_code == 201, created.text
        again = call(base, "POST", "/api/orders/", token, json=ORDER_BODY, headers=dict(key))
        assert (again.status_code, again.json()) == (201, created.json())  # idempotency lives in PostgreSQL
        order = created.json()["order_id"]
        confirmed = call(base, "POST", f"/api/orders/{order}/confirm/", token)
        assert confirmed.status_code == 200, confirmed.text
        listed = call(base, "GET", "/api/orders/", token)
        assert listed.status_code == 200, listed.text
        assert call(base, "GET", f"/api/orders/{order}/history/", token).json()["results"][-1]["version"] == 2

        # Redis returns: a worker and beat (through the same proxy) bring the read side up to date.
        redis.restore()
        for kind in ("worker", "beat"):
            service = celery(kind, tmp_path, **services, CATCH_UP_INTERVAL_SECONDS="0.5")
            running.append(service)
            service.start()

        def projected() -> bool:
            detail = call(base, "GET", f"/api/orders/{order}/", token)
            return detail.status_code == 200 and detail.json()["status"] == "CONFIRMED"

        eventually(projected, timeout=60, message="the read side to catch up", log=running[-2].log)
        # Stopped while Redis is still reachable: a worker cut off from it cannot hand back the
        # tasks it holds (they would wait out the visibility timeout).
        for service in reversed(running):
            service.stop()


def test_with_postgresql_unreachable_the_api_answers_503_with_retry_after(
    tmp_path: Path, running: list[Service]
) -> None:
    nowhere = f"postgres://postgres@127.0.0.1:{closed_port()}/backoffice"
    server = web(tmp_path, DATABASE_URL=nowhere, READ_DATABASE_URL="")
    running.append(server)
    server.start()
    base: str = server.url  # type: ignore[attr-defined]
    answers = [
        call(base, "POST", "/api/auth/token/", json={"username": "ops", "password": "x"}),
        call(base, "GET", "/api/orders/", "some-token"),
        call(base, "POST", "/api/orders/", "some-token", json=ORDER_BODY),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Content-Type"] == PROBLEM
        assert answer.headers["Retry-After"].isdigit()
        assert answer.json()["status"] == 503
