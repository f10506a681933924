"""Money in each currency's own minor units over HTTP, on PostgreSQL: a yen order and a dinar
order go from placing to payment with every amount answered with exactly their currency's
decimals (list row, detail, lines, timeline, customer stats, outbound events), a rebuild
writes the same, an amount finer than its currency is a 400 problem that records nothing,
and euro amounts read as they always did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from eventlog.store import event_store
from integration.mapping import translate
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderDetail, OrderSummary
from tests.support.http import problem

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.content
    return response.json()


def placed_and_paid(client: APIClient, place: Callable[..., Any], currency: str, prices: list[str]) -> str:
    items = [{"sku": f"SKU-{n}", "quantity": 2, "unit_price": price} for n, price in enumerate(prices)]
    order = place(customer_id=f"c-{currency}", currency=currency, items=items)["order_id"]
    ok(client.post(f"/api/orders/{order}/confirm/", {}, format="json"))
    total = ok(client.get(f"/api/orders/{order}/"))["total_amount"]
    ok(client.post(f"/api/orders/{order}/pay/", {"payment_id": f"p-{currency}", "amount": total}, format="json"))
    return str(order)


@pytest.mark.parametrize(
    ("currency", "prices", "unit_prices", "total"),
    [
        ("JPY", ["1200", "350"], ["1200", "350"], "3100"),
        ("KWD", ["1.250", "0.005"], ["1.250", "0.005"], "2.510"),
        ("EUR", ["9.99", "0.5"], ["9.99", "0.50"], "20.98"),
    ],
)
def test_an_order_reads_in_its_currencys_minor_units_end_to_end(
    admin_client_api: APIClient,
    place: Callable[..., Any],
    currency: str,
    prices: list[str],
    unit_prices: list[str],
    total: str,
) -> None:
    order = placed_and_paid(admin_client_api, place, currency, prices)
    detail = ok(admin_client_api.get(f"/api/orders/{order}/"))
    assert (detail["total_amount"], detail["currency"], detail["status"]) == (total, currency, "PAID")
    assert [item["unit_price"] for item in detail["items"]] == unit_prices
    assert (
        detail["items"][0]["line_total"]
        == ok(admin_client_api.get(f"/api/orders/{order}/", {"version": 1}))["items"][0]["line_total"]
    )
    zero = "0" if currency == "JPY" else ("0.000" if currency == "KWD" else "0.00")
    assert detail["refund_due"] == zero
    assert f"Paid {total} {currency}" in detail["timeline"][-1]["description"]
    (row,) = ok(admin_client_api.get("/api/orders/", {"customer_id": f"c-{currency}"}))["results"]
    assert row["total_amount"] == total
    stats = ok(admin_client_api.get(f"/api/customers/c-{currency}/stats/"))
    assert stats["lifetime_value"] == {currency: total}
    published = {event.type: event.data for event in translate(event_store().read_stream(order), event_store())}
    assert (published["backoffice.order.paid.v1"]["amount"], published["backoffice.order.placed.v1"]["total"]) == (
        total,
        total,
    )

    live = list(OrderDetail.objects.values()), list(OrderSummary.objects.values())
    rebuild_by_name(["orders"])
    assert (list(OrderDetail.objects.values()), list(OrderSummary.objects.values())) == live


@pytest.mark.parametrize(
    ("currency", "unit_price", "detail"),
    [("JPY", "1200.5", "0 decimal places"), ("KWD", "1.2505", "3 decimal"), ("EUR", "9.999", "2 decimal places")],
)
def test_a_price_finer_than_its_currency_is_a_400_problem_that_records_nothing(
    admin_client_api: APIClient, currency: str, unit_price: str, detail: str
) -> None:
    body = {
        "customer_id": "c-x",
        "currency": currency,
        "items": [{"sku": "A", "quantity": 1, "unit_price": unit_price}],
    }
    answer = problem(admin_client_api.post("/api/orders/", body, format="json"), 400)
    assert detail in str(answer)
    assert not StoredEvent.objects.exists()


def test_adding_a_line_or_paying_finer_than_the_currency_is_a_400_problem(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    order = place(currency="JPY", items=[{"sku": "A", "quantity": 1, "unit_price": "500"}])["order_id"]
    line = {"sku": "B", "quantity": 1, "unit_price": "99.5"}
    problem(admin_client_api.post(f"/api/orders/{order}/items/", line, format="json"), 400)
    ok(admin_client_api.post(f"/api/orders/{order}/confirm/", {}, format="json"))
    paying = {"payment_id": "p-1", "amount": "500.5"}
    assert "0 decimal places" in str(
        problem(admin_client_api.post(f"/api/orders/{order}/pay/", paying, format="json"), 400)
    )
    assert ok(admin_client_api.get(f"/api/orders/{order}/"))["version"] == 2


def test_a_refund_finer_than_the_currency_is_a_400_problem_that_records_nothing(
    admin_client_api: APIClient, place: Callable[..., Any]
) -> None:
    order = placed_and_paid(admin_client_api, place, "JPY", ["500"])
    ok(admin_client_api.post(f"/api/orders/{order}/cancel/", {"reason": "asked"}, format="json"))
    refund = {"refund_id": "rf-1", "amount": "99.5"}
    assert "0 decimal places" in str(
        problem(admin_client_api.post(f"/api/orders/{order}/refund/", refund, format="json"), 400)
    )
    assert not StoredEvent.objects.filter(stream_id=order, event_type="RefundPaid").exists()
    assert ok(admin_client_api.get(f"/api/orders/{order}/"))["refund_due"] == "1000"
