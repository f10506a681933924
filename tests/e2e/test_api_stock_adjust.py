"""POST /api/products/{sku}/adjust/ (counts and write-offs) and shipping through the API:
the answers, the problems, and what the products read model shows after them."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from inventory.events import product_stream
from tests.factories import UserFactory, token_for
from tests.support.http import post, problem, register

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.usefixtures("inline", "private_cache"),
]
COMMITS = pytest.mark.django_db(transaction=True)
ADJUST = "/api/products/HAM-1/adjust/"


def stocked(client: APIClient, on_hand: int = 10) -> None:
    register(client)
    assert post(client, "/api/products/HAM-1/receive/", {"quantity": on_hand}).status_code == 200


def product_events() -> list[str]:
    return list(
        StoredEvent.objects.filter(stream_id=product_stream("HAM-1"))
        .order_by("version")
        .values_list("event_type", flat=True)
    )


def counts(client: APIClient, position: int) -> tuple[int, int, int]:
    body = client.get(f"/api/products/HAM-1/?min_position={position}").json()
    return body["on_hand"], body["reserved"], body["available"]


@COMMITS
def test_an_adjustment_answers_ids_and_moves_on_hand(admin_client_api: APIClient) -> None:
    stocked(admin_client_api)
    response = post(admin_client_api, ADJUST, {"quantity_delta": -3, "reason": "damaged"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"sku", "version", "position"}
    assert (body["sku"], body["version"]) == ("HAM-1", 3)
    assert counts(admin_client_api, body["position"]) == (7, 0, 7)
    found = post(admin_client_api, ADJUST, {"quantity_delta": 2, "reason": "count found two more"}).json()
    assert counts(admin_client_api, found["position"]) == (9, 0, 9)
    stored = StoredEvent.objects.get(stream_id=product_stream("HAM-1"), version=3)
    assert (stored.event_type, stored.data["quantity_delta"], stored.data["reason"]) == ("StockAdjusted", -3, "damaged")


@COMMITS
def test_an_adjustment_below_reserved_is_409_and_appends_nothing(admin_client_api: APIClient, place: Any) -> None:
    stocked(admin_client_api, 5)
    order = place(items=[{"sku": "HAM-1", "quantity": 3, "unit_price": "12.50"}])
    confirmed = post(admin_client_api, f"/api/orders/{order['order_id']}/confirm/")
    assert confirmed.status_code == 200, confirmed.content
    assert "StockReserved" in product_events()
    before = product_events()
    body = problem(post(admin_client_api, ADJUST, {"quantity_delta": -3, "reason": "lost"}), 409)
    assert "below the 3 reserved" in body["detail"]
    assert product_events() == before
    # Down to exactly what is reserved is allowed.
    assert post(admin_client_api, ADJUST, {"quantity_delta": -2, "reason": "lost"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": "count"},
        {"quantity_delta": -1},
        {"quantity_delta": 0, "reason": "count"},
        {"quantity_delta": "many", "reason": "count"},
        {"quantity_delta": 1.5, "reason": "count"},
        {"quantity_delta": None, "reason": "count"},
        {"quantity_delta": 1_000_001, "reason": "count"},
        {"quantity_delta": -1_000_001, "reason": "count"},
        {"quantity_delta": 1, "reason": ""},
        {"quantity_delta": 1, "reason": "   "},
        {"quantity_delta": 1, "reason": "x" * 201},
        {"quantity_delta": 1, "reason": "a\x00b"},
        {"quantity_delta": 1, "reason": ["damaged"]},
    ],
)
def test_a_bad_delta_or_reason_is_400_and_appends_nothing(admin_client_api: APIClient, body: dict[str, Any]) -> None:
    stocked(admin_client_api)
    before = product_events()
    answer = problem(post(admin_client_api, ADJUST, body), 400)
    assert answer["errors"] or answer["detail"]
    assert product_events() == before


def test_a_reason_of_200_characters_is_accepted(admin_client_api: APIClient) -> None:
    stocked(admin_client_api)
    assert post(admin_client_api, ADJUST, {"quantity_delta": -1, "reason": "x" * 200}).status_code == 200


def test_an_unknown_sku_is_404(admin_client_api: APIClient) -> None:
    problem(post(admin_client_api, "/api/products/NOPE/adjust/", {"quantity_delta": 1, "reason": "count"}), 404)
    problem(post(admin_client_api, "/api/products/%00/adjust/", {"quantity_delta": 1, "reason": "count"}), 404)


def test_adjusting_takes_its_own_permission(admin_client_api: APIClient) -> None:
    stocked(admin_client_api)
    problem(post(APIClient(), ADJUST, {"quantity_delta": -1, "reason": "damaged"}), 401)
    for permissions in ([], ["orders.place_order"], ["inventory.manage_products"]):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(UserFactory(permissions=permissions))}")
        problem(post(client, ADJUST, {"quantity_delta": -1, "reason": "damaged"}), 403)
    assert product_events() == ["ProductRegistered", "StockReceived"]
    counter = APIClient()
    counter.credentials(HTTP_AUTHORIZATION=f"Token {token_for(UserFactory(permissions=['inventory.adjust_stock']))}")
    assert post(counter, ADJUST, {"quantity_delta": -1, "reason": "damaged"}).status_code == 200
    # Adjusting is not managing: the counter cannot receive stock.
    problem(post(counter, "/api/products/HAM-1/receive/", {"quantity": 1}), 403)


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(admin_client_api: APIClient) -> None:
    stocked(admin_client_api)
    key = {"Idempotency-Key": "count-2026-12-06"}
    first = post(admin_client_api, ADJUST, {"quantity_delta": -2, "reason": "damaged"}, **key)
    again = post(admin_client_api, ADJUST, {"quantity_delta": -2, "reason": "damaged"}, **key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert product_events().count("StockAdjusted") == 1
    problem(post(admin_client_api, ADJUST, {"quantity_delta": -5, "reason": "damaged"}, **key), 422)
    assert product_events().count("StockAdjusted") == 1


@COMMITS
def test_shipping_an_order_consumes_its_stock_and_keeps_available(admin_client_api: APIClient, place: Any) -> None:
    stocked(admin_client_api, 10)
    order = place(items=[{"sku": "HAM-1", "quantity": 4, "unit_price": "12.50"}])
    order_id = order["order_id"]
    post(admin_client_api, f"/api/orders/{order_id}/confirm/")
    paid = post(admin_client_api, f"/api/orders/{order_id}/pay/", {"payment_id": "p-1", "amount": "50.00"})
    assert paid.status_code == 200, paid.content
    before = counts(admin_client_api, paid.json()["position"])
    assert before == (10, 4, 6)
    shipped = post(admin_client_api, f"/api/orders/{order_id}/ship/", {"tracking_number": "T-1", "carrier": "DHL"})
    assert shipped.status_code == 200, shipped.content
    assert product_events()[-1] == "StockConsumed"
    head = StoredEvent.objects.order_by("-position").values_list("position", flat=True).first()
    assert head is not None
    assert counts(admin_client_api, head) == (6, 0, 6)
