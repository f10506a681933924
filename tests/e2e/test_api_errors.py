"""Every error status of the contract, as application/problem+json, and never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from kernel.errors import ConcurrencyConflict, IdempotencyKeyReused, InvalidValue, VersionMismatch
from orders.errors import OrderAlreadyExists
from tests.factories import PASSWORD, UserFactory
from tests.support.http import ORDER_BODY, PROBLEM, problem
from web.errors import problem_exception_handler

# Each test in a transaction rolled back at its end: validation and commands need no commit (none
# reads what a command projected). Projections in-process, throttles in a private cache.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.usefixtures("inline", "private_cache"),
]


def test_token_auth_and_401(admin_client_api: APIClient) -> None:
    UserFactory(username="ann")
    anonymous = APIClient()
    problem(anonymous.get("/api/orders/"), 401)
    problem(anonymous.post("/api/orders/", ORDER_BODY, format="json"), 401)
    token = anonymous.post("/api/auth/token/", {"username": "ann", "password": PASSWORD}, format="json")
    assert token.status_code == 200
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert anonymous.get("/api/orders/").status_code == 200
    problem(APIClient().post("/api/auth/token/", {"username": "ann", "password": "wrong"}, format="json"), 400)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**ORDER_BODY, "items": []},
        {**ORDER_BODY, "currency": "euro"},
        {**ORDER_BODY, "currency": "XYZ"},  # well-formed but not ISO 4217: the domain says 400
        {**ORDER_BODY, "items": [{"sku": "A", "quantity": 0, "unit_price": "1.00"}]},
        {**ORDER_BODY, "items": [{"sku": "A", "quantity": 10001, "unit_price": "1.00"}]},
        {**ORDER_BODY, "items": [{"sku": "A", "quantity": 1, "unit_price": "1.001"}]},
        {**ORDER_BODY, "items": [{"sku": "A", "quantity": 1, "unit_price": "-1"}]},
        {**ORDER_BODY, "items": [{"sku": "A", "quantity": "many", "unit_price": "1"}]},
        {**ORDER_BODY, "items": "nope"},
        {**ORDER_BODY, "customer_email": "not an address"},
        {**ORDER_BODY, "customer_email": "a@b"},
    ],
)
def test_invalid_fields_are_400_with_field_errors(admin_client_api: APIClient, body: dict[str, Any]) -> None:
    errors = problem(admin_client_api.post("/api/orders/", body, format="json"), 400)["errors"]
    assert errors
    assert StoredEvent.objects.count() == 0


def test_malformed_json_is_400(admin_client_api: APIClient) -> None:
    problem(admin_client_api.post("/api/orders/", "{not json", content_type="application/json"), 400)


def test_unknown_orders_are_404(admin_client_api: APIClient) -> None:
    for path in ("/api/orders/6f1c1d52-0000-4000-8000-000000000000/", "/api/orders/not-a-uuid/"):
        problem(admin_client_api.get(path), 404)
        problem(admin_client_api.get(path + "history/"), 404)
    problem(admin_client_api.post("/api/orders/6f1c1d52-0000-4000-8000-000000000000/confirm/"), 404)
    problem(admin_client_api.post("/api/orders/not-a-uuid/confirm/"), 404)


def test_state_conflicts_are_409(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    body = problem(
        admin_client_api.post(f"/api/orders/{order}/pay/", {"payment_id": "p", "amount": "19.98"}, format="json"), 409
    )
    assert body["detail"] == "Cannot pay an order in status PENDING"


def test_business_rules_are_422(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    many = {**ORDER_BODY, "items": [{"sku": f"S{n}", "quantity": 1, "unit_price": "1.00"} for n in range(51)]}
    problem(admin_client_api.post("/api/orders/", many, format="json"), 422)
    order = place()["order_id"]
    admin_client_api.post(f"/api/orders/{order}/confirm/")
    body = problem(
        admin_client_api.post(f"/api/orders/{order}/pay/", {"payment_id": "p", "amount": "1.00"}, format="json"), 422
    )
    assert "total" in body["detail"]


def test_item_changes_past_the_events_limit_are_422_and_the_order_can_still_be_confirmed(
    admin_client_api: APIClient, place: Callable[..., Any], settings: Any
) -> None:
    settings.MAX_EVENTS_PER_ORDER = 8  # creation, two item changes, five lifecycle events
    order = place()["order_id"]
    line = {"sku": "SKU-2", "quantity": 1, "unit_price": "1.00"}
    for _ in range(2):
        assert admin_client_api.post(f"/api/orders/{order}/items/", line, format="json").status_code == 200
    body = problem(admin_client_api.post(f"/api/orders/{order}/items/", line, format="json"), 422)
    assert "at most 8 events" in body["detail"]
    problem(admin_client_api.delete(f"/api/orders/{order}/items/SKU-2/"), 422)
    assert StoredEvent.objects.filter(stream_id=order).count() == 3
    confirmed = admin_client_api.post(f"/api/orders/{order}/confirm/")
    assert (confirmed.status_code, confirmed.json()["version"]) == (200, 4)


def test_bad_headers_and_parameters_are_400(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    problem(admin_client_api.post(f"/api/orders/{order}/confirm/", headers={"If-Match": "banana"}), 400)
    problem(
        admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers={"Idempotency-Key": "k" * 256}), 400
    )
    for query in (
        "status=LOST",
        "created_after=yesterday",
        "ordering=password",
        "min_position=-1",
        "min_position=9" * 30,
    ):
        problem(admin_client_api.get(f"/api/orders/?{query}"), 400)
    problem(admin_client_api.get(f"/api/orders/{order}/?as_of=soon"), 400)
    # Offsets PostgreSQL cannot store are converted, not passed through (found by schemathesis).
    far_offset = {"created_after": "0531-09-14T23:39:08+23:06"}
    assert admin_client_api.get("/api/orders/", far_offset).status_code == 200
    assert admin_client_api.get(f"/api/orders/{order}/", {"as_of": "2999-01-01T00:00:00+23:59"}).status_code == 200
    problem(admin_client_api.get("/api/orders/", {"created_after": "0001-01-01T00:00:00+01:00"}), 400)


def test_too_many_requests_is_429(admin_client_api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"queries": "2/min", "commands": "2/min", "auth": "2/min"}
    )
    cache.clear()
    try:
        assert [admin_client_api.get("/api/orders/").status_code for _ in range(2)] == [200, 200]
        problem(admin_client_api.get("/api/orders/"), 429)
    finally:
        cache.clear()


def test_wrong_method_and_media_type(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    problem(admin_client_api.put(f"/api/orders/{order}/", {}, format="json"), 405)
    problem(admin_client_api.post("/api/orders/", "customer_id=c", content_type="text/plain"), 415)


def test_removing_a_sku_that_is_not_on_the_order_is_404(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    body = problem(admin_client_api.delete(f"/api/orders/{order}/items/NOPE/"), 404)
    assert "NOPE" in body["detail"]


def test_an_order_total_beyond_what_can_be_paid_is_422(admin_client_api: APIClient) -> None:
    huge = [{"sku": f"S{n}", "quantity": 10000, "unit_price": "99999999.99"} for n in range(2)]
    problem(admin_client_api.post("/api/orders/", {**ORDER_BODY, "items": huge}, format="json"), 422)
    assert StoredEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConcurrencyConflict("CreateOrder kept conflicting"), 409),
        (OrderAlreadyExists("Order 1 already exists"), 409),
        (VersionMismatch(expected=1, actual=2), 412),
        (IdempotencyKeyReused("used"), 422),
        (InvalidValue("currency", "'XYZ' is not an ISO 4217 currency code"), 400),
    ],
)
def test_each_domain_error_has_its_status(error: Exception, status: int) -> None:
    # The races that end in these are proven in tests/integration; here: their HTTP mapping.
    response = problem_exception_handler(error, {})
    assert response is not None
    assert (response.status_code, response.data["status"], response.data["detail"]) == (status, status, str(error))
    assert response.content_type == PROBLEM


def test_unknown_api_paths_answer_problem_json_not_html(admin_client_api: APIClient) -> None:
    problem(admin_client_api.get("/api/nothing-here/"), 404)
    problem(admin_client_api.get("/api/orders/x/y/z/"), 404)


def test_values_that_cannot_reach_the_database_are_client_errors(admin_client_api: APIClient) -> None:
    problem(admin_client_api.get("/api/orders/?min_position=%C2%B2"), 400)  # "²" is a digit to str.isdigit()
    problem(admin_client_api.get("/api/customers/a%00b/stats/"), 404)
    problem(admin_client_api.get("/api/orders/", {"customer_id": "a\x00b"}), 400)
    nul = {**ORDER_BODY, "customer_id": "c\x00"}
    problem(admin_client_api.post("/api/orders/", nul, format="json"), 400)


def test_guessing_passwords_is_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    rates = {"queries": "9/min", "commands": "9/min", "auth": "2/min", "auth_username": "9/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    client = APIClient()
    wrong = {"username": "ann", "password": "wrong"}
    assert [client.post("/api/auth/token/", wrong, format="json").status_code for _ in range(2)] == [400, 400]
    throttled = problem(client.post("/api/auth/token/", wrong, format="json"), 429)
    assert "throttled" in throttled["detail"]
