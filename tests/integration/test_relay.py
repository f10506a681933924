"""The outbound relay on the real services: commands through the API, a Celery worker
relaying to the machine's RabbitMQ, and a subscriber bound like a partner service.

What a partner may rely on (docs/events.md): every committed public event arrives (at
least once, duplicates only with the same `id`), each subject's `sequence` strictly
increases in what a deduping consumer processes, and the payload carries the state. A broker
that is down, or up but refusing messages, only delays that (docs/integration.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from integration import mapping
from integration.broker import BrokerUnavailable
from integration.relay import RelayProjection
from orders.events import OrderPaid
from projector.loop import Projector, all_partitions
from projector.models import DeadLetter
from projector.status import projection_status
from tests.factories import SuperuserFactory
from tests.support.faults import TcpProxy
from tests.support.http import ORDER_BODY, token_client
from tests.support.rabbit import (  # noqa: F401 (fixtures)
    AMQP_URL,
    Subscriber,
    amqp_names,
    first_seen_sequences,
    own_publisher,
    refusing_queue,
    start_relay_worker,
    subscriber,
)
from tests.support.services import celery
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PUBLISHED = {kind.__name__ for kind in (*mapping.ORDER_PUBLISHED, *mapping.STOCK_PUBLISHED)}


@pytest.fixture
def api() -> APIClient:
    """A superuser's token client for the command endpoints."""
    return token_client(SuperuserFactory())


def published_ids() -> set[str]:
    """Ids of every event in the log that has a public type."""
    return {
        str(event_id)
        for event_id in StoredEvent.objects.filter(event_type__in=PUBLISHED).values_list("event_id", flat=True)
    }


def every_event_published(sub: Subscriber) -> Callable[[list[dict[str, Any]]], bool]:
    expected = published_ids()
    return lambda messages: expected <= {message["id"] for message in messages}


def command(client: APIClient, order: str, action: str, body: dict[str, Any] | None = None) -> None:
    response = client.post(f"/api/orders/{order}/{action}/", body or {}, format="json")
    assert response.status_code == 200, response.content


def through(proxy: TcpProxy) -> str:
    """The tests' broker URL (its credentials and vhost) with the proxy's address."""
    parts = urlsplit(AMQP_URL)
    credentials = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}").geturl()


def test_orders_driven_through_the_api_reach_a_subscriber_once_per_id_in_order_with_their_state(
    worker_env: None,
    amqp_names: dict[str, str],  # noqa: F811
    subscriber: Subscriber,  # noqa: F811
    api: APIClient,
    tmp_path: Path,
) -> None:
    worker = start_relay_worker(tmp_path, amqp_names)
    try:
        body = {
            **ORDER_BODY,
            "items": [
                {"sku": "SKU-1", "quantity": 2, "unit_price": "9.99"},
                {"sku": "SKU-2", "quantity": 1, "unit_price": "5.00"},
            ],
        }
        shipped = api.post("/api/orders/", body, format="json").json()["order_id"]
        command(api, shipped, "confirm")
        command(api, shipped, "pay", {"payment_id": "pay-1", "amount": "24.98"})
        command(api, shipped, "ship", {"tracking_number": "TRK-1", "carrier": "DHL"})
        command(api, shipped, "deliver")
        refunded = api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"]
        command(api, refunded, "confirm")
        command(api, refunded, "pay", {"payment_id": "pay-2", "amount": "19.98"})
        command(api, refunded, "cancel", {"reason": "customer asked"})
        unpaid = api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"]
        command(api, unpaid, "cancel", {"reason": "changed mind"})

        subscriber.until(every_event_published(subscriber), timeout=60, message="every public event")
        # The checkpoint commits just after the broker confirmed: the lag reaches 0 right after.
        eventually(
            lambda: [status.lag_events for status in projection_status() if status.name == "relay"] == [0],
            message="the relay's lag to reach 0",
            log=worker.log,
        )
    finally:
        worker.stop()

    assert first_seen_sequences(subscriber.messages) == {
        shipped: [1, 2, 3, 4, 5],
        refunded: [1, 2, 3, 4, 5],
        unpaid: [1, 2],
    }
    by_id = subscriber.distinct()
    assert set(by_id) == published_ids()
    for message, properties in zip(subscriber.messages, subscriber.properties, strict=True):
        assert properties["content_type"] == "application/cloudevents+json"
        assert properties["message_id"] == message["id"]
        assert properties["delivery_mode"] == 2
        assert (message["specversion"], message["source"], message["datacontenttype"]) == (
            "1.0",
            "/backoffice",
            "application/json",
        )
        assert message["correlationid"]
        assert message["causationid"]
        assert message["time"]
    stories = {
        subject: [(m["type"], m["data"]) for m in subscriber.messages if m["subject"] == subject]
        for subject in (shipped, refunded, unpaid)
    }
    base = {"order_id": shipped, "customer_id": "c-42"}
    lines = [
        {"sku": "SKU-1", "quantity": 2, "unit_price": "9.99"},
        {"sku": "SKU-2", "quantity": 1, "unit_price": "5.00"},
    ]
    assert stories[shipped] == [
        (
            "backoffice.order.placed.v1",
            {**base, "status": "PENDING", "currency": "EUR", "lines": lines, "total": "24.98"},
        ),
        (
            "backoffice.order.confirmed.v1",
            {**base, "status": "CONFIRMED", "currency": "EUR", "lines": lines, "total": "24.98"},
        ),
        (
            "backoffice.order.paid.v1",
            {**base, "status": "PAID", "payment_id": "pay-1", "amount": "24.98", "currency": "EUR"},
        ),
        ("backoffice.order.shipped.v1", {**base, "status": "SHIPPED", "tracking_number": "TRK-1"}),
        ("backoffice.order.delivered.v1", {**base, "status": "DELIVERED"}),
    ]
    assert stories[refunded][-2] == (
        "backoffice.order.cancelled.v1",
        {
            "order_id": refunded,
            "customer_id": "c-42",
            "status": "CANCELLED",
            "reason": "customer asked",
            "refund_due": "19.98",
            "currency": "EUR",
        },
    )
    # Billing pays refunds from backoffice.order.refund_due.v1, which follows with a sequence of its own.
    assert stories[refunded][-1] == (
        "backoffice.order.refund_due.v1",
        {
            "order_id": refunded,
            "customer_id": "c-42",
            "status": "CANCELLED",
            "refund_due": "19.98",
            "change": "19.98",
            "currency": "EUR",
            "reason": "cancelled_after_payment",
        },
    )
    assert stories[unpaid][-1][1]["refund_due"] == "0.00"


def test_two_hundred_commands_with_the_relay_killed_twice_are_all_published_in_order(
    worker_env: None,
    amqp_names: dict[str, str],  # noqa: F811
    subscriber: Subscriber,  # noqa: F811
    api: APIClient,
    tmp_path: Path,
) -> None:
    worker = start_relay_worker(tmp_path, amqp_names)
    # Doorbells the killed worker had taken are lost with it; beat's catch-up rings again.
    beat = celery("beat", tmp_path, CATCH_UP_INTERVAL_SECONDS="0.5")
    beat.start()
    orders: list[str] = []
    try:
        for index in range(200):
            if index % 4 == 0:
                orders.append(api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"])
            else:
                action = ("confirm", "pay", "cancel")[index % 4 - 1]
                body = {"payment_id": f"p-{index}", "amount": "19.98"} if action == "pay" else {"reason": "x"}
                command(api, orders[-1], action, body)
            if index in (60, 130):  # a power cut, then a fresh relay from the checkpoint
                worker.kill()
                worker.start()
        subscriber.until(every_event_published(subscriber), timeout=120, message="all 200 events")
    finally:
        beat.stop()
        worker.stop()
    # 200 commands, and a RefundOwed after each of the 50 cancellations of a paid order.
    assert len(subscriber.distinct()) == 250
    assert first_seen_sequences(subscriber.messages) == {order: [1, 2, 3, 4, 5] for order in orders}
    assert not DeadLetter.objects.filter(projection="relay").exists()


def test_with_the_broker_cut_commands_commit_and_the_relay_resumes_from_its_checkpoint(
    worker_env: None,
    amqp_names: dict[str, str],  # noqa: F811
    subscriber: Subscriber,  # noqa: F811
    api: APIClient,
    tmp_path: Path,
) -> None:
    with TcpProxy("127.0.0.1", 5672) as rabbit:
        names = {**amqp_names, "INTEGRATION_BROKER_URL": through(rabbit)}
        worker = start_relay_worker(tmp_path, names, INTEGRATION_BROKER_TIMEOUT_SECONDS="1")
        beat = celery("beat", tmp_path, CATCH_UP_INTERVAL_SECONDS="0.5")
        beat.start()
        try:
            first = api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"]
            subscriber.until(lambda messages: len(messages) == 1, timeout=60, message="the relay to publish")
            # Received is not yet confirmed: cut before the confirm reaches the relay and it keeps
            # (and later republishes) that event too. Cut once its checkpoint has moved.
            eventually(
                lambda: any(s.name == "relay" and s.lag_events == 0 for s in projection_status()),
                timeout=30,
                message="the relay's checkpoint to cover the first event",
                log=worker.log,
            )
            rabbit.cut()
            created = api.post("/api/orders/", ORDER_BODY, format="json")
            assert created.status_code == 201, created.content
            second = created.json()["order_id"]
            command(api, second, "confirm")
            command(api, first, "cancel", {"reason": "broker down"})

            def lagging() -> bool:
                return any(s.name == "relay" and s.lag_events == 3 for s in projection_status())

            eventually(lagging, timeout=30, message="the relay's lag to show", log=worker.log)
            rabbit.restore()
            subscriber.until(every_event_published(subscriber), timeout=60, message="the backlog after the outage")
        finally:
            beat.stop()
            worker.stop()
    assert first_seen_sequences(subscriber.messages) == {first: [1, 2], second: [1, 2]}
    assert not DeadLetter.objects.filter(projection="relay").exists()


def test_an_event_it_cannot_map_is_parked_and_holds_only_its_own_order(
    amqp_names: dict[str, str],  # noqa: F811
    subscriber: Subscriber,  # noqa: F811
    api: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    own_publisher: None,  # noqa: F811
) -> None:
    # A release whose published language lost its rule for OrderPaid (as if it were renamed).
    monkeypatch.setattr(mapping, "KNOWN", mapping.KNOWN - {OrderPaid})
    stuck = api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"]
    command(api, stuck, "confirm")
    command(api, stuck, "pay", {"payment_id": "pay-1", "amount": "19.98"})
    command(api, stuck, "ship", {"tracking_number": "TRK-1"})
    other = api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"]
    command(api, other, "confirm")

    relay = Projector(RelayProjection())
    for partition in all_partitions():
        relay.catch_up(partition)

    subscriber.until(lambda messages: len(messages) == 4, timeout=30, message="the publishable events")
    assert first_seen_sequences(subscriber.messages) == {stuck: [1, 2], other: [1, 2]}
    letters = DeadLetter.objects.filter(projection="relay").order_by("position")
    assert [(letter.stream_id, letter.event_type, letter.status) for letter in letters] == [
        (stuck, "OrderPaid", DeadLetter.Status.RETRYING),
        (stuck, "OrderShipped", DeadLetter.Status.HELD),
    ]
    assert "UnmappableEvent" in letters[0].error


def relay_every_partition() -> list[str]:
    """Catch the relay up on every partition in this process; the broker errors it met."""
    relay, errors = Projector(RelayProjection()), []
    for partition in all_partitions():
        try:
            relay.catch_up(partition)
        except BrokerUnavailable as error:
            errors.append(str(error))
    return errors


def relay_lag() -> int:
    return next(status.lag_events for status in projection_status() if status.name == "relay")


def test_while_the_broker_refuses_messages_the_relay_keeps_its_checkpoint_backs_off_and_then_publishes_all_in_order(
    amqp_names: dict[str, str],  # noqa: F811
    subscriber: Subscriber,  # noqa: F811
    api: APIClient,
    settings: Any,
    own_publisher: None,  # noqa: F811
) -> None:
    # Long enough to outlast a pass over every partition on a busy machine, short for a test.
    settings.INTEGRATION_PUBLISH_BACKOFF_SECONDS = settings.INTEGRATION_PUBLISH_BACKOFF_MAX_SECONDS = 2.0
    first = api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"]
    command(api, first, "confirm")
    command(api, first, "pay", {"payment_id": "pay-1", "amount": "19.98"})
    second = api.post("/api/orders/", ORDER_BODY, format="json").json()["order_id"]
    command(api, second, "cancel", {"reason": "changed mind"})
    owed = relay_lag()
    assert owed == 5

    with TcpProxy("127.0.0.1", 5672) as rabbit, refusing_queue(amqp_names["INTEGRATION_EVENTS_EXCHANGE"]) as remove:
        settings.INTEGRATION_BROKER_URL = through(rabbit)
        errors = relay_every_partition()
        assert errors, "the relay took a refused message for published"
        assert errors[0].startswith("the broker refused backoffice.order.placed.v1"), errors
        # A refusal is "not now", like an outage: the checkpoint stays, nothing is parked.
        assert relay_lag() == owed
        assert not DeadLetter.objects.filter(projection="relay").exists()

        # Backing off: asked again at once, it does not even connect.
        connections = rabbit.accepted
        errors = relay_every_partition()
        assert errors
        assert all(error.startswith("backing off") for error in errors), errors
        assert rabbit.accepted == connections

        # Once the wait has passed it tries again, is refused again, and still keeps everything.
        eventually(lambda: bool(relay_every_partition()) and rabbit.accepted > connections, message="a new attempt")
        assert relay_lag() == owed
        assert not DeadLetter.objects.filter(projection="relay").exists()

        remove()
        eventually(lambda: not relay_every_partition(), message="the relay to publish once the refusal ends")
        assert relay_lag() == 0

    subscriber.until(every_event_published(subscriber), timeout=30, message="every public event")
    # Refused copies may have reached the subscriber's queue too (a nack says some queue
    # refused): duplicates with the same id, which a deduping consumer drops.
    assert first_seen_sequences(subscriber.messages) == {first: [1, 2, 3], second: [1, 2]}
    assert set(subscriber.distinct()) == published_ids()
    assert not DeadLetter.objects.filter(projection="relay").exists()
