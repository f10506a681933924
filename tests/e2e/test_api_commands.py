"""Every command row of the REST contract, on PostgreSQL with real commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from tests.factories import UserFactory
from tests.support.http import ORDER_BODY

# Each test in a transaction rolled back at its end (commands need no commit); the tests that read
# what a command projected commit (`COMMITS`: on_commit projections run). Projections in-process,
# throttles in a private cache.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.usefixtures("inline", "private_cache"),
]
COMMITS = pytest.mark.django_db(transaction=True)


def post(client: APIClient, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(path, body or {}, format="json", headers=headers)


def test_create_answers_ids_and_location(admin_client_api: APIClient, inline: None) -> None:
    response = post(admin_client_api, "/api/orders/", ORDER_BODY)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"order_id", "version", "position"}
    assert body["version"] == 1
    assert body["position"] == StoredEvent.objects.get().position
    assert response["Location"] == f"/api/orders/{body['order_id']}/"


@COMMITS
def test_the_whole_lifecycle_through_the_api(
    admin_client_api: APIClient, place: Callable[..., Any], inline: None
) -> None:
    order = place()["order_id"]
    base = f"/api/orders/{order}/"
    steps = [
        ("post", base + "items/", {"sku": "SKU-2", "quantity": 1, "unit_price": "5.00"}),
        ("post", base + "items/", {"sku": "SKU-1", "quantity": 1, "unit_price": "9.99"}),
        ("delete", base + "items/SKU-2/", None),
        ("post", base + "confirm/", None),
        ("post", base + "pay/", {"payment_id": "pay-1", "amount": "29.97"}),
        ("post", base + "ship/", {"tracking_number": "TRK-1", "carrier": "DHL"}),
        ("post", base + "deliver/", None),
    ]
    for version, (method, path, body) in enumerate(steps, start=2):
        response = getattr(admin_client_api, method)(path, body, format="json")
        assert response.status_code == 200, (path, response.content)
        assert response.json()["version"] == version
        assert set(response.json()) == {"order_id", "version", "position"}
    detail = admin_client_api.get(base).json()
    assert detail["status"] == "DELIVERED"
    assert detail["items"] == [
        {"sku": "SKU-1", "name": None, "quantity": 3, "unit_price": "9.99", "line_total": "29.97", "returned": 0}
    ]
    assert (detail["tracking_number"], detail["carrier"], detail["payment_id"]) == ("TRK-1", "DHL", "pay-1")


@COMMITS
def test_ship_without_carrier_and_cancel_with_reason(
    admin_client_api: APIClient, place: Callable[..., Any], inline: None
) -> None:
    shipped, cancelled = place()["order_id"], place()["order_id"]
    post(admin_client_api, f"/api/orders/{shipped}/confirm/")
    post(admin_client_api, f"/api/orders/{shipped}/pay/", {"payment_id": "p", "amount": "19.98"})
    assert post(admin_client_api, f"/api/orders/{shipped}/ship/", {"tracking_number": "T"}).status_code == 200
    assert admin_client_api.get(f"/api/orders/{shipped}/").json()["carrier"] == "unknown"
    assert post(admin_client_api, f"/api/orders/{cancelled}/cancel/", {"reason": "customer asked"}).status_code == 200
    assert admin_client_api.get(f"/api/orders/{cancelled}/").json()["cancel_reason"] == "customer asked"


def test_an_idempotency_key_replays_the_first_response_and_appends_nothing(admin_client_api: APIClient) -> None:
    first = post(admin_client_api, "/api/orders/", ORDER_BODY, **{"Idempotency-Key": "k-1"})
    again = post(admin_client_api, "/api/orders/", ORDER_BODY, **{"Idempotency-Key": "k-1"})
    assert (again.status_code, again.json(), again["Location"]) == (201, first.json(), first["Location"])
    assert StoredEvent.objects.count() == 1
    order = first.json()["order_id"]
    confirm = post(admin_client_api, f"/api/orders/{order}/confirm/", None, **{"Idempotency-Key": "k-2"})
    replay = post(admin_client_api, f"/api/orders/{order}/confirm/", None, **{"Idempotency-Key": "k-2"})
    assert (replay.status_code, replay.json()) == (200, confirm.json())  # not a 409
    assert StoredEvent.objects.count() == 2


def test_the_same_key_with_another_body_is_422(admin_client_api: APIClient) -> None:
    post(admin_client_api, "/api/orders/", ORDER_BODY, **{"Idempotency-Key": "k"})
    response = post(admin_client_api, "/api/orders/", {**ORDER_BODY, "customer_id": "c-43"}, **{"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert StoredEvent.objects.count() == 1


def test_the_same_key_on_an_address_change_with_another_name_or_street_is_422(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    order = place()["order_id"]
    home = {"name": "Ann Home", "line1": "First Street 1", "postal_code": "1", "city": "Ulm", "country": "DE"}
    key = {"Idempotency-Key": "move-1"}
    first = post(admin_client_api, f"/api/orders/{order}/address/", {"shipping_address": home}, **key)
    assert first.status_code == 200, first.content
    again = post(admin_client_api, f"/api/orders/{order}/address/", {"shipping_address": home}, **key)
    assert (again.status_code, again.json()) == (200, first.json())
    for change in ({"name": "Bob Other"}, {"line1": "Second Street 2"}):
        other = {"shipping_address": {**home, **change}}
        response = post(admin_client_api, f"/api/orders/{order}/address/", other, **key)
        assert (response.status_code, response["Content-Type"]) == (422, "application/problem+json")
    assert StoredEvent.objects.filter(stream_id=order).count() == 2


def test_idempotency_keys_belong_to_their_user(make_client: Callable[..., APIClient]) -> None:
    alice, bob = make_client("place_order"), make_client("place_order")
    a = post(alice, "/api/orders/", ORDER_BODY, **{"Idempotency-Key": "same"})
    b = post(bob, "/api/orders/", ORDER_BODY, **{"Idempotency-Key": "same"})
    assert a.json()["order_id"] != b.json()["order_id"]


def test_if_match_applies_only_at_that_version(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    stale = post(admin_client_api, f"/api/orders/{order}/confirm/", None, **{"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["status"] == 412
    assert post(admin_client_api, f"/api/orders/{order}/confirm/", None, **{"If-Match": '"1"'}).status_code == 200
    assert (
        post(
            admin_client_api,
            f"/api/orders/{order}/pay/",
            {"payment_id": "p", "amount": "19.98"},
            **{"If-Match": 'W/"2"'},
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("codename", "allowed", "refused"),
    [
        ("place_order", "confirm", "pay"),
        ("fulfil_order", "pay", "cancel"),
        ("cancel_order", "cancel", "confirm"),
    ],
)
def test_each_command_group_needs_its_permission(
    make_client: Callable[..., APIClient], place: Callable[..., Any], codename: str, allowed: str, refused: str
) -> None:
    client = make_client(codename)
    bodies = {"pay": {"payment_id": "p", "amount": "19.98"}, "cancel": {"reason": "r"}, "confirm": None}
    order = place()["order_id"]
    if allowed == "pay":
        post(make_client(superuser=True, username="setup"), f"/api/orders/{order}/confirm/")
    assert post(client, f"/api/orders/{order}/{allowed}/", bodies[allowed]).status_code == 200
    refused_response = post(client, f"/api/orders/{order}/{refused}/", bodies[refused])
    assert refused_response.status_code == 403
    assert refused_response["Content-Type"] == "application/problem+json"


def test_creating_needs_place_order_but_reading_needs_only_a_user(make_client: Callable[..., APIClient]) -> None:
    reader = make_client()
    assert post(reader, "/api/orders/", ORDER_BODY).status_code == 403
    assert reader.get("/api/orders/").status_code == 200


def test_events_carry_who_asked_and_the_correlation_id(admin_client_api: APIClient) -> None:
    correlation = "0b4f3d5e-8f0e-4b7a-9a53-2b1f1c7e9d11"
    post(admin_client_api, "/api/orders/", ORDER_BODY, **{"X-Correlation-ID": correlation})
    post(admin_client_api, "/api/orders/", ORDER_BODY, **{"X-Correlation-ID": "not-a-uuid"})
    first, second = (event.metadata for event in StoredEvent.objects.order_by("position"))
    assert (first["user"], first["source"], first["correlation_id"]) == ("boss", "api", correlation)
    assert second["correlation_id"] != "not-a-uuid"
    assert len(second["correlation_id"]) == 36


def test_a_replayed_command_answers_even_after_the_order_moved_on(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    order = place()["order_id"]
    confirm = post(admin_client_api, f"/api/orders/{order}/confirm/", None, **{"Idempotency-Key": "c-1"})
    post(admin_client_api, f"/api/orders/{order}/cancel/", {"reason": "r"})
    replay = post(admin_client_api, f"/api/orders/{order}/confirm/", None, **{"Idempotency-Key": "c-1"})
    assert (replay.status_code, replay.json()) == (200, confirm.json())
    assert StoredEvent.objects.filter(stream_id=order).count() == 3


@COMMITS
def test_a_session_without_the_permission_is_403(place: Callable[..., Any]) -> None:
    session = APIClient(enforce_csrf_checks=False)
    session.force_login(UserFactory())  # axes: a password login needs a request
    order = place()["order_id"]
    assert session.get(f"/api/orders/{order}/").status_code == 200
    refused = post(session, f"/api/orders/{order}/confirm/")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert "permission" in refused.json()["detail"]  # the permission refused it, not CSRF


def test_if_match_takes_a_bare_version_or_star_and_refuses_garbage(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    order = place()["order_id"]
    item = {"sku": "SKU-9", "quantity": 1, "unit_price": "1.00"}
    assert post(admin_client_api, f"/api/orders/{order}/items/", item, **{"If-Match": "1"}).status_code == 200
    assert post(admin_client_api, f"/api/orders/{order}/items/", item, **{"If-Match": "*"}).status_code == 200
    for garbage in ('"3', '""', "v3"):
        assert post(admin_client_api, f"/api/orders/{order}/confirm/", None, **{"If-Match": garbage}).status_code == 400
    assert StoredEvent.objects.filter(stream_id=order).count() == 3


@COMMITS
def test_the_customer_email_given_with_the_order_is_where_its_emails_go(
    admin_client_api: APIClient, inline: None
) -> None:
    body = {**ORDER_BODY, "customer_email": "grace@example.com"}
    order = post(admin_client_api, "/api/orders/", body).json()["order_id"]
    assert post(admin_client_api, f"/api/orders/{order}/confirm/").status_code == 200
    assert [message.to for message in mail.outbox] == [["grace@example.com"]]
