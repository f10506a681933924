"""Refunds and returns over HTTP: what each status code means, that a refund id or an
Idempotency-Key sent twice records one refund, that the list finds who is owed money, and
that a rebuild of the read models gives the same figures."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from eventlog.store import EventStore
from fulfilment.manager import FulfilmentProcessManager
from inventory.events import product_stream
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import DailySales, OrderDetail, OrderSummary, ProductStock
from tests.factories import ReceiveStockFactory, RegisterProductFactory, UserFactory, token_for
from writeside.bus import handle

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]
PROBLEM = "application/problem+json"
TWO_LINES = [
    {"sku": "SKU-1", "quantity": 2, "unit_price": "9.99"},
    {"sku": "SKU-2", "quantity": 1, "unit_price": "5.00"},
]
TOTAL = "24.98"


def post(client: APIClient, order_id: str, action: str, body: Any = None, **headers: Any) -> Any:
    return client.post(f"/api/orders/{order_id}/{action}/", body or {}, format="json", **headers)


def step(client: APIClient, order_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
    response = post(client, order_id, action, body)
    assert response.status_code == 200, response.content
    return response.json()


def detail(client: APIClient, order_id: str) -> dict[str, Any]:
    response = client.get(f"/api/orders/{order_id}/")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def delivered(admin_client_api: APIClient, place: Callable[..., Any]) -> Callable[[], str]:
    def make() -> str:
        order: str = place(items=TWO_LINES)["order_id"]
        step(admin_client_api, order, "confirm")
        step(admin_client_api, order, "pay", {"payment_id": f"pay-{order}", "amount": TOTAL})
        step(admin_client_api, order, "ship", {"tracking_number": "TRK-1"})
        step(admin_client_api, order, "deliver")
        return order

    return make


def test_a_return_then_its_refund(admin_client_api: APIClient, delivered: Callable[[], str]) -> None:
    order = delivered()
    returned = step(
        admin_client_api,
        order,
        "return",
        {"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "too big", "restock": True},
    )
    assert set(returned) == {"order_id", "version", "position"}
    shown = detail(admin_client_api, order)
    assert (shown["status"], shown["refund_due"], shown["refunded"]) == ("DELIVERED", "9.99", "0.00")
    assert [(item["sku"], item["returned"]) for item in shown["items"]] == [("SKU-1", 1), ("SKU-2", 0)]
    assert [entry["description"] for entry in shown["timeline"][-2:]] == [
        "Returned 1 x SKU-1 (too big), restocked: 9.99 EUR owed back",
        "Refund owed: 9.99 EUR (returned)",
    ]
    # More than is due: refused, nothing recorded.
    too_much = post(admin_client_api, order, "refund", {"refund_id": "rf-1", "amount": "10.00"})
    assert (too_much.status_code, too_much["Content-Type"]) == (422, PROBLEM)
    assert "more than" in too_much.json()["detail"]
    first = step(admin_client_api, order, "refund", {"refund_id": "rf-1", "amount": "9.99"})
    # The same refund id again (even with another amount) changes nothing.
    assert step(admin_client_api, order, "refund", {"refund_id": "rf-1", "amount": "9.99"}) == first
    assert step(admin_client_api, order, "refund", {"refund_id": "rf-1", "amount": "1.00"}) == first
    shown = detail(admin_client_api, order)
    assert (shown["refund_due"], shown["refunded"], shown["version"]) == ("0.00", "9.99", first["version"])
    assert StoredEvent.objects.filter(stream_id=order, event_type="RefundPaid").count() == 1
    summary = admin_client_api.get("/api/orders/", {"customer_id": "c-42"}).json()["results"][0]
    assert (summary["refund_due"], summary["refunded"]) == ("0.00", "9.99")
    (day,) = DailySales.objects.all()
    assert (day.revenue, day.refunds_paid) == (Decimal(TOTAL), Decimal("9.99"))


def test_an_idempotency_key_replays_the_first_answer(admin_client_api: APIClient, delivered: Callable[[], str]) -> None:
    order = delivered()
    step(
        admin_client_api, order, "return", {"lines": [{"sku": "SKU-2", "quantity": 1}], "reason": "r", "restock": False}
    )
    body = {"refund_id": "rf-9", "amount": "2.00"}
    first = post(admin_client_api, order, "refund", body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post(admin_client_api, order, "refund", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.json()) == (200, first.json())
    other = post(admin_client_api, order, "refund", {**body, "amount": "3.00"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (other.status_code, other["Content-Type"]) == (422, PROBLEM)
    assert detail(admin_client_api, order)["refund_due"] == "3.00"


def test_returning_everything_returns_the_order(admin_client_api: APIClient, delivered: Callable[[], str]) -> None:
    order = delivered()
    step(
        admin_client_api, order, "return", {"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "a", "restock": False}
    )
    # A partly returned order takes back only what is left.
    too_many = post(
        admin_client_api, order, "return", {"lines": [{"sku": "SKU-1", "quantity": 2}], "reason": "b", "restock": False}
    )
    assert (too_many.status_code, too_many["Content-Type"]) == (422, PROBLEM)
    step(
        admin_client_api,
        order,
        "return",
        {"lines": [{"sku": "SKU-1", "quantity": 1}, {"sku": "SKU-2", "quantity": 1}], "reason": "b", "restock": False},
    )
    shown = detail(admin_client_api, order)
    assert (shown["status"], shown["refund_due"]) == ("RETURNED", TOTAL)
    again = post(
        admin_client_api, order, "return", {"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "c", "restock": False}
    )
    assert (again.status_code, again["Content-Type"]) == (409, PROBLEM)
    listed = admin_client_api.get("/api/orders/", {"status": "RETURNED"}).json()
    assert [row["order_id"] for row in listed["results"]] == [order]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "r", "restock": True}, "lines"),
        ({"lines": [], "reason": "r", "restock": True}, "lines"),
        ({"lines": [{"sku": "SKU-1", "quantity": 0}], "reason": "r", "restock": True}, "lines"),
        ({"lines": [{"sku": "SKU-1"}], "reason": "r", "restock": True}, "lines"),
        ({"lines": "SKU-1", "reason": "r", "restock": True}, "lines"),
        ({"lines": [{"sku": "SKU-1", "quantity": 1}], "restock": True}, "reason"),
        ({"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "r"}, "restock"),
        ({"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "r", "restock": "maybe"}, "restock"),
    ],
)
def test_a_malformed_return_is_a_400(
    admin_client_api: APIClient, delivered: Callable[[], str], body: dict[str, Any], field: str
) -> None:
    order = delivered()
    response = post(admin_client_api, order, "return", body)
    assert (response.status_code, response["Content-Type"]) == (400, PROBLEM)
    assert any(name.startswith(field) for name in response.json()["errors"])
    assert detail(admin_client_api, order)["version"] == 5


@pytest.mark.parametrize(
    "body",
    [{"amount": "1.00"}, {"refund_id": "rf-1"}, {"refund_id": "rf-1", "amount": "0"}, {"refund_id": "", "amount": "1"}],
)
def test_a_malformed_refund_is_a_400(admin_client_api: APIClient, delivered: Callable[[], str], body: Any) -> None:
    response = post(admin_client_api, delivered(), "refund", body)
    assert (response.status_code, response["Content-Type"]) == (400, PROBLEM)


def test_returns_and_refunds_answer_404_409_422_and_403(
    admin_client_api: APIClient, make_client: Callable[..., APIClient], place: Callable[..., Any]
) -> None:
    paid = place()["order_id"]
    step(admin_client_api, paid, "confirm")
    step(admin_client_api, paid, "pay", {"payment_id": "p", "amount": "19.98"})
    back = {"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "r", "restock": True}
    refund = {"refund_id": "rf-1", "amount": "1.00"}
    assert post(admin_client_api, paid, "return", back).status_code == 409  # not delivered
    assert post(admin_client_api, paid, "refund", refund).status_code == 422  # nothing owed
    unknown = "00000000-0000-4000-8000-000000000000"
    assert post(admin_client_api, unknown, "return", back).status_code == 404
    assert post(admin_client_api, unknown, "refund", refund).status_code == 404
    assert post(admin_client_api, "not-a-uuid", "refund", refund).status_code == 404
    fulfiller = make_client("fulfil_order", "cancel_order")
    assert post(fulfiller, paid, "return", back).status_code == 403
    assert post(fulfiller, paid, "refund", refund).status_code == 403
    assert post(APIClient(), paid, "refund", refund).status_code == 401
    step(admin_client_api, paid, "cancel", {"reason": "asked"})
    assert post(make_client("refund_order"), paid, "refund", refund).status_code == 200
    assert detail(admin_client_api, paid)["refund_due"] == "18.98"


def test_the_list_finds_who_is_owed_and_a_rebuild_agrees(
    admin_client_api: APIClient, place: Callable[..., Any], delivered: Callable[[], str]
) -> None:
    returned = delivered()
    step(
        admin_client_api,
        returned,
        "return",
        {"lines": [{"sku": "SKU-2", "quantity": 1}], "reason": "r", "restock": False},
    )
    unpaid = place()["order_id"]
    step(admin_client_api, unpaid, "confirm")
    step(admin_client_api, unpaid, "cancel", {"reason": "payment deadline passed"})
    late = place()["order_id"]
    step(admin_client_api, late, "confirm")
    step(admin_client_api, late, "cancel", {"reason": "payment deadline passed"})
    step(admin_client_api, late, "pay", {"payment_id": "late", "amount": "19.98"})
    step(admin_client_api, late, "refund", {"refund_id": "rf-late", "amount": "9.98"})
    paid_back = place()["order_id"]
    step(admin_client_api, paid_back, "confirm")
    step(admin_client_api, paid_back, "pay", {"payment_id": "p", "amount": "19.98"})
    step(admin_client_api, paid_back, "cancel", {"reason": "asked"})
    step(admin_client_api, paid_back, "refund", {"refund_id": "rf-all", "amount": "19.98"})

    def owing(flag: str) -> dict[str, str]:
        rows = admin_client_api.get("/api/orders/", {"refund_due": flag}).json()
        assert rows["count"] == len(rows["results"])
        return {row["order_id"]: row["refund_due"] for row in rows["results"]}

    assert owing("true") == {returned: "5.00", late: "10.00"}
    assert set(owing("false")) == {unpaid, paid_back}
    bad = admin_client_api.get("/api/orders/", {"refund_due": "yes"})
    assert (bad.status_code, bad["Content-Type"]) == (400, PROBLEM)
    before = {
        model: sorted(model.objects.values_list("order_id", "status", "refund_due", "refunded"))
        for model in (OrderSummary, OrderDetail)
    }
    sales = sorted(DailySales.objects.values_list("currency", "revenue", "refunded", "refunds_paid"))
    rebuild_by_name(["orders", "sales"])
    for model, rows in before.items():
        assert sorted(model.objects.values_list("order_id", "status", "refund_due", "refunded")) == rows
    assert sorted(DailySales.objects.values_list("currency", "revenue", "refunded", "refunds_paid")) == sales
    assert sales[0][3] == Decimal("29.96")


def test_a_refund_after_the_customer_is_forgotten(admin_client_api: APIClient, place: Callable[..., Any]) -> None:
    home = {"name": "Ada", "line1": "1 Main St", "postal_code": "10115", "city": "Berlin", "country": "DE"}
    order = place(customer_email="ada@example.com", shipping_address=home)["order_id"]
    step(admin_client_api, order, "confirm")
    step(admin_client_api, order, "pay", {"payment_id": "p", "amount": "19.98"})
    step(admin_client_api, order, "cancel", {"reason": "asked"})
    assert admin_client_api.post("/api/customers/c-42/forget/").status_code == 200
    step(admin_client_api, order, "refund", {"refund_id": "rf-1", "amount": "19.98"})
    shown = detail(admin_client_api, order)
    assert (shown["refund_due"], shown["refunded"], shown["customer_email"]) == ("0.00", "19.98", None)
    assert shown["shipping_address"]["name"] is None


def test_a_restocking_return_puts_registered_skus_back_on_hand_once(
    admin_client_api: APIClient, delivered: Callable[[], str]
) -> None:
    handle(RegisterProductFactory(sku="SKU-1"))
    handle(ReceiveStockFactory(sku="SKU-1", quantity=10))
    order = delivered()  # SKU-1 is a registered product (reserved at confirmation); SKU-2 is not

    def on_hand() -> int:
        return int(ProductStock.objects.get(sku="SKU-1").on_hand)

    before = on_hand()
    kept = {"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "damaged", "restock": False}
    step(admin_client_api, order, "return", kept)
    assert on_hand() == before  # goods kept aside do not go back on hand
    back = {"lines": [{"sku": "SKU-1", "quantity": 1}, {"sku": "SKU-2", "quantity": 1}], "reason": "r", "restock": True}
    step(admin_client_api, order, "return", back)
    assert on_hand() == before + 1
    restocked = StoredEvent.objects.get(stream_id=product_stream("SKU-1"), event_type="StockRestocked")
    assert restocked.data["order_id"] == order
    assert restocked.data["quantity"] == 1
    # The return handled again (a redelivery, a replay from checkpoint 0) restocks nothing more.
    (returned,) = [e for e in EventStore().read_stream(order) if e.event_type == "OrderReturned" and e.event.restock]
    FulfilmentProcessManager().apply([returned], "default")
    assert on_hand() == before + 1
    assert StoredEvent.objects.filter(event_type="StockRestocked").count() == 1


def test_daily_sales_show_refunds_paid_beside_revenue(
    admin_client_api: APIClient, make_client: Callable[..., APIClient], delivered: Callable[[], str]
) -> None:
    order = delivered()
    step(
        admin_client_api, order, "return", {"lines": [{"sku": "SKU-2", "quantity": 1}], "reason": "r", "restock": False}
    )
    step(admin_client_api, order, "refund", {"refund_id": "rf-1", "amount": "5.00"})
    today = str(timezone.now().date())
    answer = admin_client_api.get("/api/sales/daily/")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "results": [
            {
                "day": today,
                "currency": "EUR",
                "orders_placed": 1,
                "orders_paid": 1,
                "revenue": TOTAL,
                "refunds_paid": "5.00",
                "cancellations": 0,
                "refunded": "0.00",
            }
        ]
    }
    assert admin_client_api.get("/api/sales/daily/", {"currency": "USD"}).json() == {"results": []}
    assert admin_client_api.get("/api/sales/daily/", {"since": today, "until": today}).json() == answer.json()
    analyst = APIClient()
    analyst.credentials(
        HTTP_AUTHORIZATION=f"Token {token_for(UserFactory(permissions=['readmodels.view_dailysales']))}"
    )
    assert analyst.get("/api/sales/daily/").json() == answer.json()
    denied = make_client("refund_order").get("/api/sales/daily/")
    assert (denied.status_code, denied["Content-Type"]) == (403, PROBLEM)
    assert APIClient().get("/api/sales/daily/").status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-13-01"},
        {"until": "yesterday"},
        {"since": "2026-02-02", "until": "2026-02-01"},
        {"since": "2024-01-01", "until": "2025-01-01"},  # 367 days
        {"currency": "eur"},
        {"currency": "EURO"},
    ],
)
def test_a_bad_daily_sales_window_is_a_400(admin_client_api: APIClient, params: dict[str, str]) -> None:
    response = admin_client_api.get("/api/sales/daily/", params)
    assert (response.status_code, response["Content-Type"]) == (400, PROBLEM)
