"""AMQP names, topology and a publisher that returns only once the broker confirmed.

Every name comes from settings (docs/events.md gives the defaults). The topology is
declared by whoever starts first (relay or consumer) and re-declared on every new
connection; declaring what exists is a no-op. Each broker failure surfaces as
BrokerUnavailable, never as a half-known outcome: the relay then keeps its checkpoint. A
broker that is up but refuses a message (a nack) fails the same way, and so does one that
never confirms (a connection blocked by a resource alarm) once the bounded wait ends; after
each failure the publisher backs off, growing, so a broker that keeps refusing costs one
attempt per wait, not one per doorbell.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from amqp.exceptions import AMQPError, MessageNacked
from django.conf import settings
from kombu import Connection, Exchange, Producer, Queue
from kombu.exceptions import KombuError

from integration.envelope import CONTENT_TYPE, encode
from integration.language import INBOUND_TYPES, PublicEvent

logger = logging.getLogger(__name__)

BROKER_ERRORS: tuple[type[BaseException], ...] = (AMQPError, KombuError, OSError, socket.timeout)
# The broker took the message and said no (basic.nack: a queue at its x-max-length with
# x-overflow reject-publish, a queue that failed to store it): not published, and not the
# message's fault.
REFUSALS: tuple[type[BaseException], ...] = (MessageNacked,)


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
    Every wait is bounded: connecting, writing and each confirm by
    INTEGRATION_BROKER_TIMEOUT_SECONDS (a broker blocking publishers for a memory or disk
    alarm stops confirming, so it fails here too). Unroutable messages are not refused: no
    `mandatory` flag, since an exchange no partner has bound a queue to yet is normal.

    After a failure, calls fail at once (BrokerUnavailable, the broker untouched) until a
    backoff has passed: INTEGRATION_PUBLISH_BACKOFF_SECONDS, doubling with each failure in a
    row up to INTEGRATION_PUBLISH_BACKOFF_MAX_SECONDS; a confirmed publish resets it.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._lock = threading.Lock()
        self._backoff = 0.0  # the last wait; 0 after a confirmed publish
        self._retry_at = 0.0  # time.monotonic() before which calls fail without trying
        self._last_failure = ""

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
            waiting = self._retry_at - time.monotonic()
            if waiting > 0:
                raise BrokerUnavailable(f"backing off {waiting:.1f}s more after: {self._last_failure}")
            public = events[0]
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
            except REFUSALS as error:
                raise self._failed(f"the broker refused {public.type} {public.id} ({type(error).__name__})") from error
            except BROKER_ERRORS as error:
                raise self._failed(f"{type(error).__name__}: {error}") from error
            self._backoff, self._retry_at = 0.0, 0.0

    def _failed(self, reason: str) -> BrokerUnavailable:
        """Drop the connection, start (or grow) the backoff, say so once; the error to raise."""
        self.close()
        first = float(settings.INTEGRATION_PUBLISH_BACKOFF_SECONDS)
        self._backoff = min(max(self._backoff * 2, first), float(settings.INTEGRATION_PUBLISH_BACKOFF_MAX_SECONDS))
        self._retry_at, self._last_failure = time.monotonic() + self._backoff, reason
        logger.warning(
            "Integration broker failed (%s); publishing again in %.1fs at the earliest", reason, self._backoff
        )
        return BrokerUnavailable(reason)

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
