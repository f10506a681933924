"""Returns and refunds reach a partner through the real relay (a Celery worker, the
machine's RabbitMQ): returned.v1, then refund_due.v1 with its own sequence, then refunded.v1,
each carrying what is owed after it, and stock_changed.v1 when a return restocks."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from tests.factories import ReceiveStockFactory, RegisterProductFactory, SuperuserFactory
from tests.support.http import token_client
from tests.support.rabbit import (  # noqa: F401 (fixtures)
    Subscriber,
    amqp_names,
    first_seen_sequences,
    relay_worker,
    subscriber,
)
from tests.support.services import Service
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BODY = {
    "customer_id": "c-7",
    "currency": "EUR",
    "items": [
        {"sku": "MUG", "quantity": 2, "unit_price": "9.99"},
        {"sku": "CARD", "quantity": 1, "unit_price": "5.00"},
    ],
}


def command(client: APIClient, order: str, action: str, body: dict[str, Any] | None = None) -> None:
    response = client.post(f"/api/orders/{order}/{action}/", body or {}, format="json")
    assert response.status_code == 200, response.content


def test_a_return_and_its_refund_are_published_with_what_is_owed(
    subscriber: Subscriber,  # noqa: F811
    relay_worker: Service,  # noqa: F811
) -> None:
    api = token_client(SuperuserFactory())
    handle(RegisterProductFactory(sku="MUG"))
    handle(ReceiveStockFactory(sku="MUG", quantity=5))
    order = api.post("/api/orders/", BODY, format="json").json()["order_id"]
    command(api, order, "confirm")
    # Paying waits for the fulfilment process to reserve the MUG (the worker runs it).
    eventually(
        lambda: StoredEvent.objects.filter(stream_id=order, event_type="OrderStockReserved").exists(),
        message="the reservation",
        log=relay_worker.log,
    )
    command(api, order, "pay", {"payment_id": "pay-1", "amount": "24.98"})
    command(api, order, "ship", {"tracking_number": "TRK-1"})
    command(api, order, "deliver")
    command(api, order, "return", {"lines": [{"sku": "MUG", "quantity": 1}], "reason": "chipped", "restock": True})
    command(api, order, "refund", {"refund_id": "rf-1", "amount": "9.99"})

    def story_told(messages: list[dict[str, Any]]) -> bool:
        types = {m["type"] for m in messages}
        restocked = [
            m
            for m in messages
            # 5 received, 2 consumed by the shipment, 1 back with the return.
            if m["type"] == "backoffice.product.stock_changed.v1" and m["data"]["on_hand"] == 4
        ]
        return "backoffice.order.refunded.v1" in types and bool(restocked)

    subscriber.until(story_told, timeout=60, message="the return, its refund and the restock")

    # Version 3, the stock reservation's bookkeeping, is not published.
    assert first_seen_sequences(subscriber.messages)[order] == [1, 2, 4, 5, 6, 7, 8, 9]
    story = [(m["type"], m["data"]) for m in subscriber.distinct().values() if m["subject"] == order]
    base = {"order_id": order, "customer_id": "c-7"}
    assert story[-3:] == [
        (
            "backoffice.order.returned.v1",
            {
                **base,
                "status": "DELIVERED",
                "lines": [{"sku": "MUG", "quantity": 1}],
                "restock": True,
                "currency": "EUR",
            },
        ),
        (
            "backoffice.order.refund_due.v1",
            {
                **base,
                "status": "DELIVERED",
                "refund_due": "9.99",
                "change": "9.99",
                "currency": "EUR",
                "reason": "returned",
            },
        ),
        (
            "backoffice.order.refunded.v1",
            {
                **base,
                "status": "DELIVERED",
                "refund_id": "rf-1",
                "amount": "9.99",
                "currency": "EUR",
                "refund_due": "0.00",
            },
        ),
    ]
