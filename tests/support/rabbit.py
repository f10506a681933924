"""The machine's RabbitMQ for integration-event tests: names unique to each test, a
subscriber bound like a partner service would bind (`backoffice.#`), and a Celery worker
relaying to them (`relay_worker`).

Each test gets its own exchanges and queues (suffixed names, set in settings and handed to
the subprocesses it starts), so runs in parallel never see each other's messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from integration import broker
from tests.support.services import Service, celery

RELAY = "integration.relay.RelayProjection"
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
NAME_SETTINGS = (
    "INTEGRATION_EVENTS_EXCHANGE",
    "INTEGRATION_INBOUND_EXCHANGE",
    "INTEGRATION_INBOUND_QUEUE",
    "INTEGRATION_DEAD_LETTER_EXCHANGE",
    "INTEGRATION_DEAD_LETTER_QUEUE",
)


@pytest.fixture
def amqp_names(settings: Any) -> Iterator[dict[str, str]]:
    """This test's exchange and queue names (in settings too); the env to give subprocesses."""
    suffix = uuid.uuid4().hex[:8]
    env = {name: f"{getattr(settings, name)}.test-{suffix}" for name in NAME_SETTINGS}
    for name, value in env.items():
        setattr(settings, name, value)
    settings.INTEGRATION_BROKER_URL = AMQP_URL
    env["INTEGRATION_BROKER_URL"] = AMQP_URL
    # What config/settings.py does when the environment names a broker (the workers these
    # tests start read it so): the relay joins the projections.
    settings.PROJECTIONS = [*settings.PROJECTIONS, RELAY]
    yield env
    with Connection(AMQP_URL) as connection:
        channel: Any = connection.channel()  # kombu's stub types it as the bare protocol
        for name in ("INTEGRATION_INBOUND_QUEUE", "INTEGRATION_DEAD_LETTER_QUEUE"):
            channel.queue_delete(env[name])
        for name in ("INTEGRATION_EVENTS_EXCHANGE", "INTEGRATION_INBOUND_EXCHANGE", "INTEGRATION_DEAD_LETTER_EXCHANGE"):
            channel.exchange_delete(env[name])


class Subscriber:
    """A partner's queue bound to `backoffice.#`: every message, in arrival order."""

    def __init__(self, exchange: str, binding: str = "backoffice.#") -> None:
        self.connection = Connection(AMQP_URL)
        self.exchange = Exchange(exchange, type="topic", durable=True)
        self.queue = Queue(f"subscriber-{uuid.uuid4().hex[:8]}", self.exchange, routing_key=binding, exclusive=True)
        self.messages: list[dict[str, Any]] = []
        self.properties: list[dict[str, Any]] = []
        channel = self.connection.channel()
        self.exchange(channel).declare()
        self.queue(channel).declare()
        self.consumer = self.connection.Consumer(self.queue, callbacks=[self._received], accept=None)
        self.consumer.consume()

    def _received(self, body: Any, message: Any) -> None:
        raw = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        self.messages.append(json.loads(raw))
        self.properties.append({"content_type": message.content_type, **message.properties})
        message.ack()

    def until(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float, message: str) -> None:
        """Drain messages until `done(messages)` holds, or fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self.messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {message}; got {len(self.messages)} messages")
            try:
                self.connection.drain_events(timeout=0.5)
            except TimeoutError:
                continue

    def distinct(self) -> dict[str, dict[str, Any]]:
        """Messages by id (a redelivery carries the same id)."""
        return {message["id"]: message for message in self.messages}

    def close(self) -> None:
        self.connection.release()


@pytest.fixture
def subscriber(amqp_names: dict[str, str]) -> Iterator[Subscriber]:
    """A subscriber on this test's events exchange, bound before anything is published."""
    sub = Subscriber(amqp_names["INTEGRATION_EVENTS_EXCHANGE"])
    yield sub
    sub.close()


def start_relay_worker(tmp_path: Path, names: dict[str, str], **env: str) -> Service:
    """A Celery worker that projects this test's commands and relays them to the exchanges
    `names` gives (amqp_names'), started; `env` adds to its environment."""
    worker = celery("worker", tmp_path, **{**names, **env})
    worker.start()
    return worker


@pytest.fixture
def relay_worker(worker_env: None, amqp_names: dict[str, str], tmp_path: Path) -> Iterator[Service]:
    """`start_relay_worker` on this test's exchanges before the test, stopped after it."""
    worker = start_relay_worker(tmp_path, amqp_names)
    yield worker
    worker.stop()


def first_seen_sequences(messages: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Per subject, the `sequence` of each message whose id had not been seen before, in
    arrival order: what a consumer that dedupes on `id` processes."""
    seen: set[str] = set()
    sequences: dict[str, list[int]] = {}
    for message in messages:
        if message["id"] in seen:
            continue
        seen.add(message["id"])
        sequences.setdefault(message["subject"], []).append(int(message["sequence"]))
    return sequences


@pytest.fixture
def own_publisher(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's relay publisher new for the test (its connection, exchange and backoff
    belong to whichever test made it) and closed after."""
    monkeypatch.setattr(broker, "_publisher", None)
    yield
    if broker._publisher is not None:
        broker._publisher.close()


@contextlib.contextmanager
def refusing_queue(exchange: str) -> Iterator[Callable[[], None]]:
    """A queue bound to every event that refuses them all (x-max-length 0, reject-publish: the
    broker nacks each message routed to it); yields the function that deletes it, which the
    exit repeats so that nothing is left on the broker."""
    with Connection(AMQP_URL) as connection:
        channel: Any = connection.channel()
        name = f"{exchange}.refusing"
        arguments = {"x-max-length": 0, "x-overflow": "reject-publish"}
        Queue(name, routing_key="#", exchange=broker.events_exchange(), queue_arguments=arguments)(channel).declare()

        def remove() -> None:
            channel.queue_delete(name)  # deleting a queue that is gone is no error

        try:
            yield remove
        finally:
            remove()
