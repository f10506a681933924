"""The inbound side for tests: this test's inbound topology on the machine's RabbitMQ, a
consumer process on it, messages sent the way a payment provider or carrier sends them, and a
proxy that cuts the consumer's database."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.conf import settings
from kombu import Connection, Producer

from eventlog.models import StoredEvent
from integration.broker import inbound_exchange
from integration.consumer import declare, retry_queue
from integration.language import INBOUND_TYPES
from tests.factories import ConfirmOrderFactory, CreateOrderFactory, InboundEventFactory, total_of
from tests.support.faults import TcpProxy
from tests.support.rabbit import AMQP_URL, amqp_names  # noqa: F401 (fixture)
from tests.support.services import Service, service_env
from writeside.bus import handle

PAID = "payment.captured.v1"
DISPATCHED = "shipment.dispatched.v1"


# The delays of every consumer this test started: each declared a delay queue per delay, named
# after this test's inbound queue, which the `inbound` fixture deletes after the test.
_consumer_delays: set[float] = set()


@pytest.fixture
def inbound(amqp_names: dict[str, str]) -> Iterator[dict[str, str]]:  # noqa: F811
    """This test's inbound topology, declared before anything is sent; its delay queues go after
    (those this process declared and those of the consumers it started)."""
    with Connection(AMQP_URL) as connection:
        declare(connection.channel())
    _consumer_delays.clear()
    yield amqp_names
    with Connection(AMQP_URL) as connection:
        channel: Any = connection.channel()  # kombu's stub types it as the bare protocol
        for delay in {*settings.INTEGRATION_RETRY_DELAYS_SECONDS, *_consumer_delays}:
            channel.queue_delete(retry_queue(delay).name)
    _consumer_delays.clear()


def consumer(tmp_path: Path, names: dict[str, str], **env: str) -> Service:
    """A consumer process (not yet started) on this test's names and database."""
    args = [sys.executable, "-u", "manage.py", "consume_inbound"]
    # Its commits ring doorbells that no worker of this test answers: a queue of its own keeps
    # those tasks and their pending marks away from the tests that count the session's queue.
    extra = {
        **names,
        "INTEGRATION_RETRY_DELAYS_SECONDS": "0.2,0.4",
        "CELERY_TASK_DEFAULT_QUEUE": f"{names.get('INTEGRATION_INBOUND_QUEUE', 'inbound')}-doorbells",
        **env,
    }
    _consumer_delays.update(float(delay) for delay in extra["INTEGRATION_RETRY_DELAYS_SECONDS"].split(","))
    return Service(args, tmp_path / "consumer.log", "integration consumer ready", service_env(**extra))


def send(*events: dict[str, Any] | bytes, routing_key: str = PAID, headers: dict[str, Any] | None = None) -> None:
    """Publish to this test's inbound exchange as a partner would (persistent, confirmed), with
    the AMQP `headers` the partner chose, if any."""
    with Connection(AMQP_URL, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.channel(), exchange=inbound_exchange())
        for event in events:
            body = event if isinstance(event, bytes) else json.dumps(event).encode()
            message_id = None if isinstance(event, bytes) else event["id"]
            # A type we do not bind reaches our queue only when its sender mislabels it.
            key = event["type"] if isinstance(event, dict) and event["type"] in INBOUND_TYPES else routing_key
            producer.publish(
                body,
                routing_key=key,
                content_type="application/cloudevents+json",
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=message_id,
                headers=headers,
            )


def confirmed_order() -> tuple[UUID, Decimal]:
    """A confirmed order (untracked SKUs: payable at once); its id and total."""
    create = CreateOrderFactory.build()
    handle(create)
    handle(ConfirmOrderFactory.build(order_id=create.order_id))
    return create.order_id, total_of(create)


def payment(order_id: UUID, amount: Decimal, **changes: Any) -> dict[str, Any]:
    data = {"order_id": str(order_id), "payment_id": f"pay-{uuid4().hex[:8]}", "amount": str(amount), "currency": "EUR"}
    event: dict[str, Any] = InboundEventFactory.build(type=PAID, data={**data, **changes.pop("data", {})}, **changes)
    return event


@contextmanager
def database_proxy() -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test database, and the DATABASE_URL through it."""
    database: dict[str, Any] = settings.DATABASES["default"]
    with TcpProxy(database.get("HOST") or "127.0.0.1", int(database.get("PORT") or 5432)) as proxy:
        yield proxy, f"postgres://{database.get('USER') or 'postgres'}@127.0.0.1:{proxy.port}/{database['NAME']}"


def events_of(event_type: str, order_id: UUID) -> list[StoredEvent]:
    return list(StoredEvent.objects.filter(stream_id=str(order_id), event_type=event_type))
