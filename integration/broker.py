"""AMQP names, topology and a publisher that returns only once the broker confirmed.

Every name comes from settings (docs/events.md gives the defaults). The topology is
declared by whoever starts first (relay or consumer) and re-declared on every new
connection; declaring what exists is a no-op. Each broker failure surfaces as
BrokerUnavailable, never as a half-known outcome: the relay then keeps its checkpoint.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from typing import Any

from amqp.exceptions import AMQPError
from django.conf import settings
from kombu import Connection, Exchange, Producer, Queue
from kombu.exceptions import KombuError

from integration.envelope import CONTENT_TYPE, encode
from integration.language import INBOUND_TYPES, PublicEvent

logger = logging.getLogger(__name__)

BROKER_ERRORS: tuple[type[BaseException], ...] = (AMQPError, KombuError, OSError, socket.timeout)


class BrokerUnavailable(Exception):
    """The broker could not be reached or did not confirm: nothing may be assumed published."""


def configured() -> bool:
    """True when an integration broker is configured (never in the embedded default)."""
    return bool(settings.INTEGRATION_BROKER_URL)


def connection(url: str | None = None) -> Connection:
    """A pyamqp connection with publisher confirms and bounded socket waits."""
    timeout = float(settings.INTEGRATION_BROKER_TIMEOUT_SECONDS)
    return Connection(
        url or settings.INTEGRATION_BROKER_URL,
        connect_timeout=timeout,
        heartbeat=0,
        transport_options={"confirm_publish": True, "read_timeout": timeout, "write_timeout": timeout},
    )


def events_exchange() -> Exchange:
    """The durable topic exchange every outbound event goes to, routed by its type."""
    return Exchange(settings.INTEGRATION_EVENTS_EXCHANGE, type="topic", durable=True)


def inbound_exchange() -> Exchange:
    """The durable topic exchange other services send us their events on."""
    return Exchange(settings.INTEGRATION_INBOUND_EXCHANGE, type="topic", durable=True)


def dead_letter_exchange() -> Exchange:
    """Where refused inbound messages are routed (to the dead-letter queue)."""
    return Exchange(settings.INTEGRATION_DEAD_LETTER_EXCHANGE, type="fanout", durable=True)


def inbound_queue() -> Queue:
    """Our durable inbound queue, bound to the three inbound types."""
    exchange = inbound_exchange()
    return Queue(
        settings.INTEGRATION_INBOUND_QUEUE,
        exchange=exchange,
        routing_key=INBOUND_TYPES[0],
        durable=True,
        queue_arguments={"x-dead-letter-exchange": settings.INTEGRATION_DEAD_LETTER_EXCHANGE},
    )


def dead_letter_queue() -> Queue:
    """The durable queue of dead-lettered inbound messages, each with x-rejection-reason."""
    return Queue(settings.INTEGRATION_DEAD_LETTER_QUEUE, exchange=dead_letter_exchange(), durable=True)


def declare_outbound(channel: Any) -> None:
    """Declare the outbound exchange (idempotent)."""
    events_exchange()(channel).declare()


def declare_inbound(channel: Any) -> None:
    """Declare the inbound exchange, queue and bindings, and the dead-letter path (idempotent)."""
    inbound_exchange()(channel).declare()
    dead_letter_exchange()(channel).declare()
    dead_letter_queue()(channel).declare()
    queue = inbound_queue()(channel)
    queue.declare()
    for type_ in INBOUND_TYPES:
        queue.bind_to(exchange=settings.INTEGRATION_INBOUND_EXCHANGE, routing_key=type_)


class Publisher:
    """Publishes public events, persistent, each confirmed by the broker before the next.

    One connection per process, opened lazily and dropped on any failure so the next call
    starts afresh. Publishing one event at a time in order keeps each subject's order.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    def _ready(self) -> Producer:
        if self._producer is None:
            self._connection = connection(self.url)
            channel = self._connection.channel()
            declare_outbound(channel)
            self._producer = Producer(channel, exchange=events_exchange())
        return self._producer

    def publish(self, events: Sequence[PublicEvent]) -> None:
        """Publish every event in order; returns once the broker confirmed the last one."""
        if not events:
            return
        timeout = float(settings.INTEGRATION_BROKER_TIMEOUT_SECONDS)
        with self._lock:
            try:
                producer = self._ready()
                for public in events:
                    producer.publish(
                        encode(public),
                        routing_key=public.type,
                        content_type=CONTENT_TYPE,
                        content_encoding="utf-8",
                        delivery_mode=2,
                        message_id=public.id,
                        retry=False,
                        timeout=timeout,
                    )
            except BROKER_ERRORS as error:
                self.close()
                raise BrokerUnavailable(f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Drop the connection (ignoring errors: it may be dead already)."""
        if self._connection is not None:
            try:
                self._connection.release()
            except BROKER_ERRORS:
                logger.debug("closing a broken integration connection failed", exc_info=True)
        self._connection, self._producer = None, None


_publisher: Publisher | None = None


def publisher() -> Publisher:
    """This process's publisher (created on first use, so after a worker forks)."""
    global _publisher
    if _publisher is None:
        _publisher = Publisher()
    return _publisher
