"""What an attacker can send under /api/: each answer is problem+json with a 4xx, nothing changes.

Before these defences, deeply nested JSON crashed the parser (500, or with DEBUG a 144 KB
traceback with the settings), a large body or too many form fields got Django's HTML 400, and
a min_position past the log's head held a web worker for the whole wait.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from readmodels.wait_slots import wait_slot
from tests.support.http import ORDER_BODY, problem

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]
# The shape of the reported attack: 100,000 nested lists.
NESTED = "[" * 100_000 + "]" * 100_000


def nested(depth: int) -> str:
    return '{"customer_id": "c-1", "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_deeply_nested_json_is_400_for_anonymous_and_signed_in_clients(admin_client_api: APIClient) -> None:
    anonymous = APIClient().post("/api/auth/token/", NESTED, content_type="application/json")
    assert "nested" in problem(anonymous, 400)["detail"]
    signed_in = admin_client_api.post("/api/orders/", NESTED, content_type="application/json")
    problem(signed_in, 400)
    assert not StoredEvent.objects.exists()


def test_json_one_level_past_the_limit_is_refused_and_at_the_limit_parsed(admin_client_api: APIClient) -> None:
    # The object itself is level 1: `nested(32)` is 32 levels deep.
    assert (
        "nested deeper"
        in problem(admin_client_api.post("/api/orders/", nested(33), content_type="application/json"), 400)["detail"]
    )
    at_limit = admin_client_api.post("/api/orders/", nested(32), content_type="application/json")
    assert "nested deeper" not in problem(at_limit, 400)["detail"]  # parsed, then refused for its fields


def test_a_body_over_the_limit_is_413_before_anything_reads_it(admin_client_api: APIClient) -> None:
    five_megabytes = '{"customer_id": "' + "x" * 5_000_000 + '"}'
    response = admin_client_api.post("/api/orders/", five_megabytes, content_type="application/json")
    problem(response, 413)
    problem(APIClient().post("/api/auth/token/", five_megabytes, content_type="application/json"), 413)
    assert not StoredEvent.objects.exists()


def test_too_many_form_fields_is_400_problem_json(admin_client_api: APIClient) -> None:
    fields = "&".join(f"f{number}=1" for number in range(1_500))
    response = admin_client_api.post("/api/orders/", fields, content_type="application/x-www-form-urlencoded")
    assert "parameters exceeded" in problem(response, 400)["detail"]
    assert not StoredEvent.objects.exists()


def test_a_forbidden_host_is_400_problem_json() -> None:
    problem(APIClient().get("/api/orders/", headers={"Host": "attacker.example"}), 400)


def test_min_position_past_the_head_answers_at_once(admin_client_api: APIClient, settings: Any) -> None:
    settings.READ_YOUR_WRITES_TIMEOUT = 60.0
    started = time.monotonic()
    response = admin_client_api.get("/api/orders/", {"min_position": 2**63 - 1})
    assert response.status_code == 200
    assert response["X-Read-Model-Stale"] == "true"
    # Well inside the 60 s wait it would have sat through: a bound, not a speed claim.
    assert time.monotonic() - started < 30


@pytest.mark.django_db(transaction=True)
def test_a_user_with_every_wait_slot_taken_does_not_wait(admin_client_api: APIClient, settings: Any) -> None:
    settings.EVENT_SUBSCRIBERS = []  # nothing projects: a wait for this order's position cannot end early
    settings.READ_YOUR_WRITES_TIMEOUT = 60.0
    created = admin_client_api.post("/api/orders/", ORDER_BODY, format="json").json()
    boss = str(User.objects.get(username="boss").pk)
    release = threading.Event()
    holding = [threading.Event(), threading.Event()]

    def hold_a_slot(taken: threading.Event) -> None:  # a wait of this user in another web process
        try:
            with wait_slot(boss) as granted:
                if granted:
                    taken.set()
                release.wait(60)
        finally:
            connections.close_all()

    holders = [threading.Thread(target=hold_a_slot, args=(taken,)) for taken in holding]
    for holder in holders:
        holder.start()
    try:
        assert all(taken.wait(20) for taken in holding)
        with wait_slot(boss) as third:
            assert not third  # READ_YOUR_WRITES_WAITS_PER_USER is 2
        started = time.monotonic()
        response = admin_client_api.get("/api/orders/", {"min_position": created["position"]})
        assert time.monotonic() - started < 30  # answered without sitting out the 60 s wait
        assert response.status_code == 200
        assert response["X-Read-Model-Stale"] == "true"
    finally:
        release.set()
        for holder in holders:
            holder.join(20)
    with wait_slot(boss) as again:
        assert again  # the slots were given back
