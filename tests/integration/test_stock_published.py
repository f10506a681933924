"""backoffice.product.stock_changed.v1 through the real relay and RabbitMQ when a shipment
consumes stock and when stock is adjusted: once per event, in order, with the stock after it."""

from __future__ import annotations

from typing import Any

import pytest

from integration import language
from tests.factories import SuperuserFactory
from tests.support.http import token_client
from tests.support.rabbit import (  # noqa: F401 (fixtures)
    Subscriber,
    amqp_names,
    first_seen_sequences,
    relay_worker,
    subscriber,
)
from tests.support.scenarios import has
from tests.support.services import Service
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.content
    return response.json()


def stock_messages(messages: list[dict[str, Any]]) -> list[tuple[int, int, int, int]]:
    """(sequence, on_hand, reserved, available) of each distinct stock_changed, in sequence order."""
    seen = {m["id"]: m for m in messages if m["type"] == language.PRODUCT_STOCK_CHANGED}
    return sorted(
        (int(m["sequence"]), m["data"]["on_hand"], m["data"]["reserved"], m["data"]["available"]) for m in seen.values()
    )


def test_a_shipment_and_a_write_off_publish_the_stock_after_them(
    subscriber: Subscriber,  # noqa: F811
    relay_worker: Service,  # noqa: F811
) -> None:
    api = token_client(SuperuserFactory())
    ok(api.post("/api/products/", {"sku": "MUG-1", "name": "Mug", "price": "9.99"}, format="json"))
    ok(api.post("/api/products/MUG-1/receive/", {"quantity": 10}, format="json"))
    body = {
        "customer_id": "c-1",
        "currency": "EUR",
        "items": [{"sku": "MUG-1", "quantity": 3, "unit_price": "9.99"}],
    }
    order = ok(api.post("/api/orders/", body, format="json"))["order_id"]
    ok(api.post(f"/api/orders/{order}/confirm/", format="json"))
    eventually(has(order, "OrderStockReserved"), message="the reservation", log=relay_worker.log)
    ok(api.post(f"/api/orders/{order}/pay/", {"payment_id": "p-1", "amount": "29.97"}, format="json"))
    ok(api.post(f"/api/orders/{order}/ship/", {"tracking_number": "T-1"}, format="json"))
    eventually(has("product:MUG-1", "StockConsumed"), message="the consumption", log=relay_worker.log)
    ok(api.post("/api/products/MUG-1/adjust/", {"quantity_delta": -2, "reason": "damaged"}, format="json"))
    subscriber.until(lambda messages: len(stock_messages(messages)) == 4, timeout=60, message="four changes")
    assert stock_messages(subscriber.messages) == [
        (2, 10, 0, 10),  # received
        (3, 10, 3, 7),  # reserved for the order
        (4, 7, 0, 7),  # shipped: consumed, available unchanged
        (5, 5, 0, 5),  # written off
    ]
    assert first_seen_sequences(subscriber.messages)["MUG-1"] == [2, 3, 4, 5]
