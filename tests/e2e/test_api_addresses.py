"""The v1 additions on orders over HTTP: addresses and payment method, the address change,
refund_due, and the detail at a version (`?version=`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from projector.rebuild_progress import rebuild_by_name
from tests.support.http import ORDER_BODY

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]
HOME = {"name": "Ada Lovelace", "line1": "1 Main St", "postal_code": "10115", "city": "Berlin", "country": "DE"}
OFFICE = {**HOME, "line1": "2 Work Rd", "line2": "Floor 3", "city": "Vienna", "postal_code": "1010", "country": "AT"}
PROBLEM = "application/problem+json"


def detail(client: APIClient, order_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/orders/{order_id}/", params)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def step(client: APIClient, order_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
    response = client.post(f"/api/orders/{order_id}/{action}/", body or {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_an_order_placed_with_addresses_shows_them_and_billing_defaults_to_shipping(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    order = place(customer_email="ada@example.com", shipping_address=HOME, payment_method="invoice")["order_id"]
    shown = detail(admin_client_api, order)
    assert shown["customer_email"] == "ada@example.com"
    assert shown["shipping_address"] == shown["billing_address"] == {**HOME, "line2": ""}
    assert (shown["payment_method"], shown["refund_due"]) == ("invoice", "0.00")
    both = place(shipping_address=HOME, billing_address=OFFICE)["order_id"]
    shown = detail(admin_client_api, both)
    assert (shown["shipping_address"]["city"], shown["billing_address"], shown["payment_method"]) == (
        "Berlin",
        OFFICE,
        None,
    )


def test_an_order_without_the_new_fields_shows_nulls(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    shown = detail(admin_client_api, place()["order_id"])
    assert {key: shown[key] for key in ("customer_email", "shipping_address", "billing_address", "payment_method")} == {
        "customer_email": None,
        "shipping_address": None,
        "billing_address": None,
        "payment_method": None,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"shipping_address": {**HOME, "country": "XX"}}, "shipping_address.country"),
        ({"shipping_address": {**HOME, "country": "de"}}, "shipping_address.country"),
        ({"billing_address": {**HOME, "country": "AN"}}, "billing_address.country"),  # withdrawn from ISO 3166-1
        ({"shipping_address": {**HOME, "line1": "x" * 201}}, "shipping_address.line1"),
        ({"shipping_address": {**HOME, "name": "n" * 201}}, "shipping_address.name"),
        ({"shipping_address": {**HOME, "postal_code": "1" * 21}}, "shipping_address.postal_code"),
        ({"shipping_address": {key: value for key, value in HOME.items() if key != "city"}}, "shipping_address.city"),
        ({"shipping_address": "Berlin"}, "shipping_address.non_field_errors"),
        ({"payment_method": "cash"}, "payment_method"),
        ({"payment_method": ["card"]}, "payment_method"),
    ],
)
def test_bad_addresses_and_payment_methods_are_refused_and_change_nothing(
    admin_client_api: APIClient, changes: dict[str, Any], field: str
) -> None:
    response = admin_client_api.post("/api/orders/", {**ORDER_BODY, **changes}, format="json")
    assert (response.status_code, response["Content-Type"]) == (400, PROBLEM)
    assert field in response.json()["errors"], response.json()
    assert not StoredEvent.objects.exists()


def test_the_shipping_address_changes_until_shipment(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place(shipping_address=HOME)["order_id"]
    answer = step(admin_client_api, order, "address", {"shipping_address": OFFICE})
    assert set(answer) == {"order_id", "version", "position"}
    assert answer["version"] == 2
    shown = detail(admin_client_api, order)
    assert (shown["shipping_address"], shown["billing_address"]["city"]) == (OFFICE, "Berlin")
    assert shown["timeline"][-1]["description"] == "Shipping address changed to Vienna, AT"
    step(admin_client_api, order, "confirm")
    step(admin_client_api, order, "pay", {"payment_id": "p-1", "amount": "19.98"})
    step(admin_client_api, order, "address", {"shipping_address": HOME})
    step(admin_client_api, order, "ship", {"tracking_number": "T-1"})
    refused = admin_client_api.post(f"/api/orders/{order}/address/", {"shipping_address": OFFICE}, format="json")
    assert (refused.status_code, refused["Content-Type"]) == (409, PROBLEM)
    assert detail(admin_client_api, order)["shipping_address"] == {**HOME, "line2": ""}


@pytest.mark.parametrize("ending", ["deliver", "cancel"])
def test_no_address_change_once_delivered_or_cancelled(
    admin_client_api: APIClient, place: Callable[..., Any], ending: str
) -> None:
    order = place()["order_id"]
    if ending == "deliver":
        step(admin_client_api, order, "confirm")
        step(admin_client_api, order, "pay", {"payment_id": "p-1", "amount": "19.98"})
        step(admin_client_api, order, "ship", {"tracking_number": "T-1"})
        step(admin_client_api, order, "deliver")
    else:
        step(admin_client_api, order, "cancel", {"reason": "asked"})
    refused = admin_client_api.post(f"/api/orders/{order}/address/", {"shipping_address": OFFICE}, format="json")
    assert refused.status_code == 409


def test_the_address_change_validates_needs_the_place_permission_and_an_order(
    admin_client_api: APIClient, make_client: Callable[..., APIClient], place: Callable[..., Any]
) -> None:
    order = place()["order_id"]
    url = f"/api/orders/{order}/address/"
    bad = admin_client_api.post(url, {"shipping_address": {**OFFICE, "country": "ZZ"}}, format="json")
    assert (bad.status_code, list(bad.json()["errors"])) == (400, ["shipping_address.country"])
    assert admin_client_api.post(url, {}, format="json").status_code == 400
    assert (
        make_client("fulfil_order", "cancel_order").post(url, {"shipping_address": OFFICE}, format="json").status_code
        == 403
    )
    assert make_client("place_order").post(url, {"shipping_address": OFFICE}, format="json").status_code == 200
    unknown = "/api/orders/00000000-0000-4000-8000-000000000000/address/"
    assert admin_client_api.post(unknown, {"shipping_address": OFFICE}, format="json").status_code == 404
    assert StoredEvent.objects.filter(stream_id=order).count() == 2


def test_cancelling_a_paid_order_shows_the_refund_due(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    paid, unpaid = place()["order_id"], place()["order_id"]
    for order in (paid, unpaid):
        step(admin_client_api, order, "confirm")
    step(admin_client_api, paid, "pay", {"payment_id": "p-1", "amount": "19.98"})
    for order in (paid, unpaid):
        step(admin_client_api, order, "cancel", {"reason": "asked"})
    assert detail(admin_client_api, paid)["refund_due"] == "19.98"
    assert detail(admin_client_api, unpaid)["refund_due"] == "0.00"
    stored = StoredEvent.objects.get(stream_id=paid, event_type="OrderCancelled")
    assert (stored.schema_version, stored.data["refund_due"]) == (2, "19.98")


def test_paying_a_cancelled_order_records_the_payment_and_owes_it_back_once(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    cancelled, refunded = place()["order_id"], place()["order_id"]
    for order in (cancelled, refunded):
        step(admin_client_api, order, "confirm")
    step(admin_client_api, refunded, "pay", {"payment_id": "p-1", "amount": "19.98"})
    for order in (cancelled, refunded):
        step(admin_client_api, order, "cancel", {"reason": "asked"})
    late = step(admin_client_api, cancelled, "pay", {"payment_id": "p-late", "amount": "19.98"})
    assert late["version"] == 4
    # The same payment again, here or on the order it paid before its cancellation, is owed once.
    assert step(admin_client_api, cancelled, "pay", {"payment_id": "p-late", "amount": "19.98"}) == late
    # Confirmed, paid, cancelled, refund owed: the payment again changes nothing.
    assert step(admin_client_api, refunded, "pay", {"payment_id": "p-1", "amount": "19.98"})["version"] == 5
    wrong = admin_client_api.post(
        f"/api/orders/{cancelled}/pay/", {"payment_id": "p-other", "amount": "1.00"}, format="json"
    )
    assert (wrong.status_code, wrong["Content-Type"]) == (422, PROBLEM)
    shown = detail(admin_client_api, cancelled)
    assert (shown["status"], shown["refund_due"], shown["timeline_count"]) == ("CANCELLED", "19.98", 4)
    assert shown["timeline"][-1]["event_type"] == "PaymentCapturedAfterCancellation"
    assert "p-late" in shown["timeline"][-1]["description"]
    assert detail(admin_client_api, refunded)["refund_due"] == "19.98"
    assert StoredEvent.objects.filter(event_type="PaymentCapturedAfterCancellation").count() == 1


def test_the_detail_at_a_version(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place(shipping_address=HOME)["order_id"]
    step(admin_client_api, order, "address", {"shipping_address": OFFICE})
    step(admin_client_api, order, "confirm")
    first = detail(admin_client_api, order, version=1)
    assert (first["version"], first["status"], first["shipping_address"]["city"]) == (1, "PENDING", "Berlin")
    assert first["timeline_count"] == 1
    second = detail(admin_client_api, order, version="2")
    assert (second["shipping_address"], second["status"]) == (OFFICE, "PENDING")
    response = admin_client_api.get(f"/api/orders/{order}/", {"version": 3})
    assert response["ETag"] == '"3"'
    assert response.json() == detail(admin_client_api, order)
    past = admin_client_api.get(f"/api/orders/{order}/", {"version": 4})
    assert (past.status_code, past["Content-Type"]) == (404, PROBLEM)
    unknown = admin_client_api.get("/api/orders/00000000-0000-4000-8000-000000000000/", {"version": 1})
    assert unknown.status_code == 404


@pytest.mark.parametrize("version", ["0", "-1", "1.5", "two", "", "99999999999999999999", "²"])
def test_a_version_that_is_not_a_positive_integer_is_a_400(
    admin_client_api: APIClient, place: Callable[..., Any], version: str
) -> None:
    order = place()["order_id"]
    response = admin_client_api.get(f"/api/orders/{order}/", {"version": version})
    assert (response.status_code, response["Content-Type"]) == (400, PROBLEM)
    assert list(response.json()["errors"]) == ["version"]


def test_version_and_as_of_together_are_a_400(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    order = place()["order_id"]
    response = admin_client_api.get(f"/api/orders/{order}/", {"version": "1", "as_of": datetime.now(UTC).isoformat()})
    assert (response.status_code, list(response.json()["errors"])) == (400, ["version"])


def test_rebuilt_details_equal_the_live_ones(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    kept = place(customer_email="ada@example.com", shipping_address=HOME, billing_address=OFFICE)["order_id"]
    step(admin_client_api, kept, "address", {"shipping_address": OFFICE})
    refunded = place(payment_method="card")["order_id"]
    step(admin_client_api, refunded, "confirm")
    step(admin_client_api, refunded, "pay", {"payment_id": "p-1", "amount": "19.98"})
    step(admin_client_api, refunded, "cancel", {"reason": "asked"})
    live = {order: detail(admin_client_api, order) for order in (kept, refunded)}
    rebuild_by_name(["orders"])
    assert {order: detail(admin_client_api, order) for order in (kept, refunded)} == live
    assert live[refunded]["refund_due"] == "19.98"


def test_the_schema_describes_the_additions(admin_client_api: APIClient) -> None:
    schema = admin_client_api.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    assert "post" in schema["paths"]["/api/orders/{order_id}/address/"]
    parameters = {p["name"] for p in schema["paths"]["/api/orders/{order_id}/"]["get"]["parameters"]}
    assert {"version", "as_of"} <= parameters
    detail_fields = schema["components"]["schemas"]["OrderDetailOut"]["properties"]
    assert {"customer_email", "shipping_address", "billing_address", "payment_method", "refund_due"} <= set(
        detail_fields
    )
    created = schema["components"]["schemas"]["CreateOrderInRequest"]["properties"]
    assert {"shipping_address", "billing_address", "payment_method"} <= set(created)
