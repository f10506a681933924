"""The right to erasure over HTTP, on PostgreSQL: after `forget`, a dump of every database
holds none of the customer's personal data, the read models equal a rebuild from the log,
and every way of reading an order (detail, `?version=`, `as_of`, history, search) answers
null for the erased fields while the orders keep their lines, totals and statuses."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.apps import apps
from django.db import connections
from rest_framework.test import APIClient

from eventlog.models import StoredEvent, SubjectKey
from projector.rebuild_progress import rebuild_by_name
from projector.registry import all_projections

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]
PROBLEM = "application/problem+json"


def distinctive(kind: str) -> str:
    """A string no fixture, default or other test could produce by chance (lower case, so
    the case-folded search text holds it as it is)."""
    return f"{kind}{secrets.token_hex(8)}"


def person() -> dict[str, Any]:
    address = {
        "name": distinctive("name"),
        "line1": distinctive("street"),
        "line2": distinctive("floor"),
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    return {"customer_email": f"{distinctive('mail')}@example.org", "shipping_address": address}


def personal_strings(*people: dict[str, Any]) -> set[str]:
    found = set()
    for someone in people:
        found.add(someone["customer_email"])
        for key in ("shipping_address", "billing_address", "moved_to"):
            if key in someone:
                found |= {someone[key][field] for field in ("name", "line1", "line2")}
    return found


def dump_every_database() -> str:
    """pg_dump of each database the suite uses (the write one, and the read one if apart)."""
    dumps = []
    for name in {connections[alias].settings_dict["NAME"]: alias for alias in connections}:
        alias = next(alias for alias in connections if connections[alias].settings_dict["NAME"] == name)
        settings = connections[alias].settings_dict
        command = ["pg_dump", "--no-owner", "-h", settings["HOST"] or "127.0.0.1", "-U", settings["USER"] or "postgres"]
        if settings["PORT"]:
            command += ["-p", str(settings["PORT"])]
        env = {"PGPASSWORD": settings["PASSWORD"]} if settings["PASSWORD"] else {}
        result = subprocess.run(
            [*command, name], capture_output=True, text=True, check=True, env={**env, "PATH": "/usr/bin:/bin"}
        )
        dumps.append(result.stdout)
    return "\n".join(dumps)


# The read models that hold personal data (orders: e-mail, addresses, search text;
# notifications: the directory). The others are compared less their surrogate ids, and the
# status counts less the zero rows live counting leaves behind (a rebuild writes none).
PERSONAL_READ_MODELS = {"readmodels_orderdetail", "readmodels_ordersummary", "notifications_customerdirectory"}


def read_models() -> dict[str, list[dict[str, Any]]]:
    """Every row of every rebuildable projection's tables (see PERSONAL_READ_MODELS)."""
    rows = {}
    for projection in all_projections().values():
        if projection.rebuildable:
            for model in projection.tables:
                table = model._meta.db_table
                values = list(model._default_manager.order_by("pk").values())
                if table not in PERSONAL_READ_MODELS and model._meta.pk.name == "id":
                    values = sorted(({k: v for k, v in row.items() if k != "id"} for row in values), key=str)
                rows[table] = [row for row in values if row.get("orders", 1) != 0]
    assert set(rows) >= PERSONAL_READ_MODELS
    return rows


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.content
    return response.json()


@pytest.fixture
def story(settings: Any, admin_client_api: APIClient, place: Callable[..., Any]) -> dict[str, Any]:
    """A customer with two orders (one moved, paid and shipped so the outbox mailed them) and
    another customer whose data must survive; snapshots every 2 events, so they hold state too."""
    settings.SNAPSHOT_EVERY = 2
    ada, other = person(), person()
    ada["billing_address"] = {**person()["shipping_address"], "city": "Wien", "country": "AT"}
    ada["moved_to"] = person()["shipping_address"]
    first = place(customer_id="c-ada", **{k: ada[k] for k in ("customer_email", "shipping_address", "billing_address")})
    order = first["order_id"]
    ok(admin_client_api.post(f"/api/orders/{order}/address/", {"shipping_address": ada["moved_to"]}, format="json"))
    ok(admin_client_api.post(f"/api/orders/{order}/confirm/", {}, format="json"))
    ok(admin_client_api.post(f"/api/orders/{order}/pay/", {"payment_id": "p-1", "amount": "19.98"}, format="json"))
    ok(admin_client_api.post(f"/api/orders/{order}/ship/", {"tracking_number": "t-1", "carrier": "dhl"}, format="json"))
    second = place(customer_id="c-ada", customer_email=ada["customer_email"])["order_id"]
    kept = place(customer_id="c-other", **other)["order_id"]
    return {"ada": ada, "other": other, "orders": [order, second], "kept": kept}


def test_after_forgetting_no_database_dump_holds_the_customers_personal_data(
    admin_client_api: APIClient, story: dict[str, Any]
) -> None:
    ada = personal_strings(story["ada"])
    before = dump_every_database()
    # The dump sees plain copies (read models, outbox) before: the check below can fail.
    assert story["ada"]["customer_email"] in before
    assert apps.get_model("notifications", "Notification").objects.exclude(recipient="").exists()

    response = admin_client_api.post("/api/customers/c-ada/forget/")
    assert response.status_code == 200, response.content
    assert response.json()["customer_id"] == "c-ada"

    after = dump_every_database()
    assert {text for text in ada if text in after} == set()
    assert personal_strings(story["other"]) <= {text for text in personal_strings(story["other"]) if text in after}


def test_after_forgetting_every_read_answers_null_and_the_orders_keep_the_rest(
    admin_client_api: APIClient, story: dict[str, Any]
) -> None:
    order, second = story["orders"]
    before = ok(admin_client_api.get(f"/api/orders/{order}/"))
    forgotten_at = ok(admin_client_api.post("/api/customers/c-ada/forget/"))["forgotten_at"]
    assert datetime.fromisoformat(forgotten_at.replace("Z", "+00:00")) <= datetime.now(UTC)

    shown = ok(admin_client_api.get(f"/api/orders/{order}/"))
    erased = {"name": None, "line1": None, "line2": None}
    assert shown["customer_email"] is None
    assert shown["shipping_address"] == {**story["ada"]["moved_to"], **erased}
    assert shown["billing_address"] == {**story["ada"]["billing_address"], **erased}
    keep = ("status", "items", "total_amount", "version", "customer_id", "payment_method")
    assert {key: shown[key] for key in keep} == {key: before[key] for key in keep}
    assert shown["status"] == "SHIPPED"

    at_one = ok(admin_client_api.get(f"/api/orders/{order}/", {"version": 1}))
    assert at_one["customer_email"] is None
    assert at_one["shipping_address"] == {**story["ada"]["shipping_address"], **erased}
    as_of = ok(admin_client_api.get(f"/api/orders/{order}/", {"as_of": datetime.now(UTC).isoformat()}))
    assert (as_of["customer_email"], as_of["billing_address"]["name"]) == (None, None)

    history = ok(admin_client_api.get(f"/api/orders/{order}/history/"))
    text = str(history)
    assert not {secret for secret in personal_strings(story["ada"]) if secret in text}
    created = history["results"][0]["data"]
    assert (created["customer_email"], created["shipping_address"]["name"]) == (None, None)
    assert "personal" not in created
    assert ok(admin_client_api.get(f"/api/orders/{second}/"))["customer_email"] is None

    for secret in (story["ada"]["customer_email"], story["ada"]["moved_to"]["name"]):
        assert ok(admin_client_api.get("/api/orders/", {"q": secret}))["count"] == 0
    listed = ok(admin_client_api.get("/api/orders/", {"q": "c-ada"}))
    assert listed["count"] == 2
    assert [(row["customer_name"], row["customer_email"]) for row in listed["results"]] == [(None, None)] * 2
    (kept,) = ok(admin_client_api.get("/api/orders/", {"customer_id": "c-other"}))["results"]
    assert (kept["customer_name"], kept["customer_email"]) == (
        story["other"]["shipping_address"]["name"],
        story["other"]["customer_email"],
    )
    assert (
        ok(admin_client_api.get(f"/api/orders/{story['kept']}/"))["customer_email"] == story["other"]["customer_email"]
    )


def test_a_rebuild_after_forgetting_equals_the_live_read_models(
    admin_client_api: APIClient, place: Callable[..., Any], story: dict[str, Any]
) -> None:
    ok(admin_client_api.post("/api/customers/c-ada/forget/"))
    # Back after being forgotten: a new key, and this order's data stays readable.
    again = person()
    newer = place(customer_id="c-ada", **again)["order_id"]
    (pending,) = list(story["orders"][1:])
    ok(
        admin_client_api.post(
            f"/api/orders/{pending}/address/", {"shipping_address": again["shipping_address"]}, format="json"
        )
    )
    assert SubjectKey.objects.filter(subject="c-ada").count() == 1
    live = read_models()
    rebuild_by_name([])
    assert read_models() == live
    listed = ok(admin_client_api.get("/api/orders/", {"customer_id": "c-ada"}))["results"]
    rows = {row["order_id"]: row for row in listed}
    assert (rows[story["orders"][0]]["customer_name"], rows[story["orders"][0]]["customer_email"]) == (None, None)
    assert (rows[newer]["customer_name"], rows[newer]["customer_email"]) == (
        again["shipping_address"]["name"],
        again["customer_email"],
    )
    assert ok(admin_client_api.get(f"/api/orders/{newer}/"))["customer_email"] == again["customer_email"]
    assert ok(admin_client_api.get(f"/api/orders/{pending}/"))["shipping_address"] == {**again["shipping_address"]}


def test_forgetting_twice_answers_the_same_and_changes_nothing(
    admin_client_api: APIClient, story: dict[str, Any]
) -> None:
    first = ok(admin_client_api.post("/api/customers/c-ada/forget/"))
    events = StoredEvent.objects.count()
    live = read_models()
    assert ok(admin_client_api.post("/api/customers/c-ada/forget/")) == first
    assert (StoredEvent.objects.count(), read_models()) == (events, live)


def test_forgetting_needs_its_permission(make_client: Callable[..., APIClient], story: dict[str, Any]) -> None:
    for client in (make_client("place_order", "cancel_order", "fulfil_order"), APIClient()):
        response = client.post("/api/customers/c-ada/forget/")
        assert response.status_code in (401, 403)
        assert response["Content-Type"] == PROBLEM
    assert SubjectKey.objects.filter(subject="c-ada").exists()
    allowed = make_client("forget_customer").post("/api/customers/c-ada/forget/")
    assert allowed.status_code == 200, allowed.content


def test_an_unknown_or_malformed_customer_is_a_clear_problem(admin_client_api: APIClient) -> None:
    unknown = admin_client_api.post("/api/customers/nobody/forget/")
    assert (unknown.status_code, unknown["Content-Type"]) == (404, PROBLEM)
    for bad in ("x" * 65, "%20%20", "a%00b"):
        response = admin_client_api.post(f"/api/customers/{bad}/forget/")
        assert (response.status_code, response["Content-Type"]) == (400, PROBLEM), response.content
    assert not StoredEvent.objects.exists()


def test_the_schema_describes_forgetting(admin_client_api: APIClient) -> None:
    schema = admin_client_api.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    operation = schema["paths"]["/api/customers/{customer_id}/forget/"]["post"]
    assert {"200", "400", "403", "404"} <= set(operation["responses"])


def test_a_forgetting_retried_with_its_idempotency_key_erases_what_came_since(
    admin_client_api: APIClient, place: Callable[..., Any], story: dict[str, Any]
) -> None:
    key = {"Idempotency-Key": "forget-ada-once"}
    first = ok(admin_client_api.post("/api/customers/c-ada/forget/", headers=key))
    back = person()
    newer = place(customer_id="c-ada", **back)["order_id"]
    assert ok(admin_client_api.get(f"/api/orders/{newer}/"))["customer_email"] == back["customer_email"]

    # Forgetting is a state to reach, not a change made once: the retry forgets them now.
    again = ok(admin_client_api.post("/api/customers/c-ada/forget/", headers=key))
    assert datetime.fromisoformat(again["forgotten_at"]) > datetime.fromisoformat(first["forgotten_at"])
    assert not SubjectKey.objects.filter(subject="c-ada").exists()
    assert ok(admin_client_api.get(f"/api/orders/{newer}/"))["customer_email"] is None

    # With nothing new to forget, the retry answers the same and changes nothing.
    events = StoredEvent.objects.count()
    assert ok(admin_client_api.post("/api/customers/c-ada/forget/", headers=key)) == again
    assert StoredEvent.objects.count() == events
    # The key stays bound to its customer.
    other = admin_client_api.post("/api/customers/c-other/forget/", headers=key)
    assert (other.status_code, other["Content-Type"]) == (422, PROBLEM)
    assert SubjectKey.objects.filter(subject="c-other").exists()
