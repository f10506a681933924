"""What the log records for an amount sent over HTTP, on PostgreSQL: exactly its currency's
minor-unit digits (EUR "9.90", JPY "1200", KWD "1.250"), whatever digits the request wrote it
with (the API parses every amount to 3 decimals, the most any currency has), in every event
that carries one: unit prices placed and added, payments before and after a cancellation,
refund_due, money owed for a cancellation or a return, refunds paid. A product's price, which
names no currency, is recorded with 2 decimals, or 3 when the third is not 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from eventlog.models import StoredEvent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("inline", "private_cache"),
]


def step(client: APIClient, order_id: str, action: str, body: dict[str, Any] | None = None) -> None:
    response = client.post(f"/api/orders/{order_id}/{action}/", body or {}, format="json")
    assert response.status_code == 200, response.content


def recorded(stream_id: str) -> dict[str, Any]:
    """Each event type of the stream and its stored data (the last of its type)."""
    return {
        event.event_type: event.data for event in StoredEvent.objects.filter(stream_id=stream_id).order_by("version")
    }


# currency, what the requests write (unit price, added unit price, total, refund), and what
# each must be recorded as.
WRITTEN_AND_RECORDED = [
    ("EUR", ("9.9", "0.5", "20.3", "9.9"), ("9.90", "0.50", "20.30", "9.90", "0.00")),
    ("JPY", ("1200", "350", "2750", "1200"), ("1200", "350", "2750", "1200", "0")),
    ("KWD", ("1.25", "0.5", "3", "1.25"), ("1.250", "0.500", "3.000", "1.250", "0.000")),
    # What the regression wrote "19.980": two decimals written, three recorded.
    ("EUR", ("9.99", "0.01", "19.99", "9.99"), ("9.99", "0.01", "19.99", "9.99", "0.00")),
]


@pytest.mark.parametrize(("currency", "written", "expected"), WRITTEN_AND_RECORDED)
def test_every_amount_an_order_records_has_its_currencys_digits(
    admin_client_api: APIClient,
    place: Callable[..., Any],
    currency: str,
    written: tuple[str, ...],
    expected: tuple[str, ...],
) -> None:
    price, added, total, refund = written
    price_is, added_is, total_is, refund_is, zero = expected
    placed = {"currency": currency, "items": [{"sku": "A", "quantity": 2, "unit_price": price}]}
    line = {"sku": "B", "quantity": 1, "unit_price": added}

    returned = place(**placed)["order_id"]
    step(admin_client_api, returned, "items", line)
    step(admin_client_api, returned, "confirm")
    step(admin_client_api, returned, "pay", {"payment_id": f"p-{returned}", "amount": total})
    step(admin_client_api, returned, "ship", {"tracking_number": "TRK-1"})
    step(admin_client_api, returned, "deliver")
    back = {"lines": [{"sku": "A", "quantity": 1}], "reason": "too small", "restock": False}
    step(admin_client_api, returned, "return", back)
    step(admin_client_api, returned, "refund", {"refund_id": "rf-1", "amount": refund})
    events = recorded(returned)
    assert [row["unit_price"] for row in events["OrderCreated"]["lines"]] == [price_is]
    assert events["OrderItemAdded"]["unit_price"] == added_is
    assert events["OrderPaid"]["amount"] == total_is
    assert (events["OrderReturned"]["amount"], events["RefundOwed"]["amount"]) == (price_is, price_is)
    assert events["RefundPaid"]["amount"] == refund_is

    cancelled = place(**placed)["order_id"]
    step(admin_client_api, cancelled, "items", line)
    step(admin_client_api, cancelled, "confirm")
    step(admin_client_api, cancelled, "pay", {"payment_id": f"p-{cancelled}", "amount": total})
    step(admin_client_api, cancelled, "cancel", {"reason": "changed my mind"})
    step(admin_client_api, cancelled, "pay", {"payment_id": f"again-{cancelled}", "amount": total})
    events = recorded(cancelled)
    assert (events["OrderCancelled"]["refund_due"], events["RefundOwed"]["amount"]) == (total_is, total_is)
    assert events["PaymentCapturedAfterCancellation"]["amount"] == total_is

    unpaid = place(**placed)["order_id"]
    step(admin_client_api, unpaid, "confirm")
    step(admin_client_api, unpaid, "cancel", {"reason": "changed my mind"})
    assert recorded(unpaid)["OrderCancelled"]["refund_due"] == zero


@pytest.mark.parametrize(
    ("written", "recorded_as"),
    [("9.99", "9.99"), ("9.9", "9.90"), ("12", "12.00"), ("9.990", "9.99"), ("1.125", "1.125"), ("0.005", "0.005")],
)
def test_a_products_price_is_recorded_with_2_decimals_or_3_when_the_third_is_not_0(
    admin_client_api: APIClient, written: str, recorded_as: str
) -> None:
    body = {"sku": "HAM-1", "name": "Hammer", "price": written}
    response = admin_client_api.post("/api/products/", body, format="json")
    assert response.status_code in (200, 201), response.content
    (stored,) = StoredEvent.objects.filter(event_type="ProductRegistered")
    assert stored.data["price"] == recorded_as
    assert admin_client_api.get("/api/products/HAM-1/").json()["price"] == recorded_as
