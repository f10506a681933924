"""The product endpoints of the REST API: commands, the ProductStock queries and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from tests.factories import UserFactory
from tests.support.http import PRODUCT, post, problem, register

# Each test in a transaction rolled back at its end (validation and commands need no commit);
# the tests that read what a command projected commit (`COMMITS`: on_commit projections run).
# Projections in-process, throttles in a private cache.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.usefixtures("inline", "private_cache"),
]
COMMITS = pytest.mark.django_db(transaction=True)


def test_register_answers_ids_and_location(admin_client_api: APIClient) -> None:
    response = post(admin_client_api, "/api/products/", PRODUCT)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {"sku": "HAM-1", "version": 1, "position": StoredEvent.objects.get().position}
    assert response["Location"] == "/api/products/HAM-1/"


@COMMITS
def test_receive_rename_then_list_and_detail_of_product_stock(admin_client_api: APIClient) -> None:
    register(admin_client_api)
    register(admin_client_api, sku="AXE-1", name="Axe")
    received = post(admin_client_api, "/api/products/HAM-1/receive/", {"quantity": 7})
    assert received.status_code == 200, received.content
    assert set(received.json()) == {"sku", "version", "position"}
    assert received.json()["version"] == 2
    renamed = post(admin_client_api, "/api/products/HAM-1/rename/", {"name": "Claw hammer"})
    assert renamed.status_code == 200, renamed.content
    position = renamed.json()["position"]

    detail = admin_client_api.get(f"/api/products/HAM-1/?min_position={position}")
    assert detail.status_code == 200
    assert "X-Read-Model-Stale" not in detail
    assert {k: v for k, v in detail.json().items() if k != "updated_at"} == {
        "sku": "HAM-1",
        "name": "Claw hammer",
        "price": "12.50",
        "on_hand": 7,
        "reserved": 0,
        "available": 7,
        "version": 3,
    }
    page = admin_client_api.get("/api/products/").json()
    assert page["count"] == 2
    assert [(row["sku"], row["available"]) for row in page["results"]] == [("AXE-1", 0), ("HAM-1", 7)]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**PRODUCT, "sku": "HAM/1"},
        {**PRODUCT, "sku": ""},
        {**PRODUCT, "sku": "X" * 65},
        {**PRODUCT, "name": ""},
        {**PRODUCT, "price": "0"},
        {**PRODUCT, "price": "1.2345"},
        {**PRODUCT, "price": "lots"},
    ],
)
def test_invalid_registrations_are_400_with_field_errors(admin_client_api: APIClient, body: dict[str, Any]) -> None:
    body_out = problem(post(admin_client_api, "/api/products/", body), 400)
    assert body_out["errors"]
    assert not StoredEvent.objects.exists()


def test_malformed_json_and_invalid_quantities_are_400(admin_client_api: APIClient) -> None:
    register(admin_client_api)
    raw = admin_client_api.post("/api/products/", "{not json", content_type="application/json")
    problem(raw, 400)
    for quantity in (0, -1, "many", None):
        problem(post(admin_client_api, "/api/products/HAM-1/receive/", {"quantity": quantity}), 400)
    problem(post(admin_client_api, "/api/products/HAM-1/rename/", {"name": ""}), 400)


def test_unknown_skus_are_404(admin_client_api: APIClient) -> None:
    problem(admin_client_api.get("/api/products/NOPE/"), 404)
    problem(post(admin_client_api, "/api/products/NOPE/receive/", {"quantity": 1}), 404)
    problem(post(admin_client_api, "/api/products/NOPE/rename/", {"name": "Nope"}), 404)
    # An SKU that could never be registered names no product either, never a 500.
    problem(post(admin_client_api, "/api/products/a%2Fb/receive/", {"quantity": 1}), 404)
    problem(admin_client_api.get("/api/products/%00/"), 404)
    problem(post(admin_client_api, "/api/products/%00/receive/", {"quantity": 1}), 404)
    problem(post(admin_client_api, "/api/products/%00/rename/", {"name": "Nul"}), 404)


def test_registering_twice_is_409_and_appends_nothing(admin_client_api: APIClient) -> None:
    register(admin_client_api)
    body = problem(post(admin_client_api, "/api/products/", {**PRODUCT, "name": "Other"}), 409)
    assert "HAM-1" in body["detail"]
    assert StoredEvent.objects.count() == 1


def test_an_idempotent_retry_returns_the_first_answer(admin_client_api: APIClient) -> None:
    first = post(admin_client_api, "/api/products/", PRODUCT, **{"Idempotency-Key": "reg-1"})
    again = post(admin_client_api, "/api/products/", PRODUCT, **{"Idempotency-Key": "reg-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert StoredEvent.objects.count() == 1


def test_permissions_as_for_orders(make_client: Any, admin_client_api: APIClient) -> None:
    anonymous = APIClient()
    problem(post(anonymous, "/api/products/", PRODUCT), 401)
    problem(anonymous.get("/api/products/"), 401)
    problem(anonymous.get("/api/products/HAM-1/"), 401)
    reader = make_client("place_order")  # an order permission is not a product one
    problem(post(reader, "/api/products/", PRODUCT), 403)
    register(admin_client_api)
    problem(post(reader, "/api/products/HAM-1/receive/", {"quantity": 1}), 403)
    problem(post(reader, "/api/products/HAM-1/rename/", {"name": "X"}), 403)
    assert reader.get("/api/products/").status_code == 200  # queries need only a signed-in user

    manager = UserFactory(permissions=["inventory.manage_products"])
    client = APIClient()
    client.force_authenticate(manager)
    assert post(client, "/api/products/HAM-1/receive/", {"quantity": 2}).status_code == 200


def listed(client: APIClient, **params: str) -> list[str]:
    response = client.get("/api/products/", params)
    assert response.status_code == 200, response.content
    page = response.json()
    assert page["count"] == len(page["results"])
    return [row["sku"] for row in page["results"]]


@COMMITS
def test_q_searches_sku_and_name_and_low_stock_is_at_most_the_threshold(
    admin_client_api: APIClient, settings: Any
) -> None:
    for sku, name, quantity in (("HAM-1", "Claw Hammer", 7), ("AXE-1", "Axe", 0), ("SAW-9", "Hand saw", 5)):
        register(admin_client_api, sku=sku, name=name)
        if quantity:
            post(admin_client_api, f"/api/products/{sku}/receive/", {"quantity": quantity})
    assert listed(admin_client_api, q="ham") == ["HAM-1"]  # SKU and name, partial
    assert listed(admin_client_api, q="HAND") == ["SAW-9"]  # name, other case
    assert listed(admin_client_api, q="-1") == ["AXE-1", "HAM-1"]
    assert listed(admin_client_api, q="claw ham") == ["HAM-1"]  # every word
    assert listed(admin_client_api, q="claw axe") == []
    assert listed(admin_client_api, low_stock="true") == ["AXE-1", "SAW-9"]  # available 0 and 5
    assert listed(admin_client_api, low_stock="false") == ["AXE-1", "HAM-1", "SAW-9"]
    assert listed(admin_client_api, low_stock="true", q="saw") == ["SAW-9"]
    settings.LOW_STOCK_THRESHOLD = 7
    assert listed(admin_client_api, low_stock="true") == ["AXE-1", "HAM-1", "SAW-9"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"low_stock": "yes"}, "low_stock"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a b c d e f g h i"}, "q"),
        ({"q": "\x00"}, "q"),
    ],
)
def test_bad_product_list_parameters_are_400(admin_client_api: APIClient, params: dict[str, str], field: str) -> None:
    assert field in problem(admin_client_api.get("/api/products/", params), 400)["errors"]


@COMMITS
def test_a_price_reads_with_two_decimals_or_three_when_given_three(admin_client_api: APIClient) -> None:
    register(admin_client_api, sku="NAIL-1", price="0.125")
    register(admin_client_api, sku="SAW-1", price="12.5")
    register(admin_client_api, sku="BOX-1", price="3")
    prices = {row["sku"]: row["price"] for row in admin_client_api.get("/api/products/").json()["results"]}
    assert prices == {"NAIL-1": "0.125", "SAW-1": "12.50", "BOX-1": "3.00"}
