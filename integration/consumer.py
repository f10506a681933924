"""The inbound consumer: each message from `backoffice.inbound` becomes one command, exactly
once in effect, and is acknowledged only once its fate is settled for good.

* Applied (or handled before: the command id derives from `(source, id)`, integration/inbound.py)
  → acknowledged after the command's transaction committed.
* Refused for good (malformed, unknown type, invalid data, or a DomainError: unknown order,
  wrong state, amount mismatch) → a copy goes to the dead-letter exchange with
  `x-rejection-reason`, confirmed by the broker, and only then is the original acknowledged.
* Transient (the database unreachable, or a write conflict that outlived the bus's retries)
  → a copy goes to the next TTL'd delay queue, which dead-letters it back to the inbound
  queue when its time is up, counting attempts in `x-attempts`; after the last delay it is
  dead-lettered like a refusal.

A crash between the confirmed copy and the ack leaves both: the original is delivered again and
settles the same way (a second dead copy, or a command already handled). Publishing runs on a
connection of its own, so waiting for a confirm never dispatches another delivery re-entrantly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.message import Message

from integration import broker
from integration.inbound import RefusedMessage, to_command
from writeside import bus
from writeside.errors import ConcurrencyConflict, DomainError

logger = logging.getLogger(__name__)

REASON_HEADER = "x-rejection-reason"
ATTEMPTS_HEADER = "x-attempts"
# The routing key the sender used (the type), kept on copies so a replay routes like the original.
ROUTING_HEADER = "x-original-routing-key"
# When the message was dead-lettered (ISO 8601, UTC), for the operator who finds it there.
DEAD_AT_HEADER = "x-dead-lettered-at"
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConcurrencyConflict)
MAX_REASON = 1000


def retry_queue(delay_seconds: float) -> Queue:
    """The delay queue for one retry delay: messages wait out its TTL, then go back to the
    inbound queue (through the default exchange). Named by its delay, so a changed setting
    declares a new queue instead of clashing with the old one's arguments."""
    milliseconds = round(delay_seconds * 1000)
    return Queue(
        f"{settings.INTEGRATION_INBOUND_QUEUE}.retry.{milliseconds}ms",
        exchange=Exchange(""),
        durable=True,
        queue_arguments={
            "x-message-ttl": milliseconds,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": settings.INTEGRATION_INBOUND_QUEUE,
        },
    )


def declare(channel: Any) -> None:
    """The inbound topology and the delay queues (idempotent)."""
    broker.declare_inbound(channel)
    for delay in settings.INTEGRATION_RETRY_DELAYS_SECONDS:
        retry_queue(delay)(channel).declare()


def copy_headers(message: Message, **changes: Any) -> dict[str, Any]:
    """The message's headers with `changes` applied (None removes one), remembering its routing key."""
    headers = dict(message.headers or {})
    headers.setdefault(ROUTING_HEADER, message.delivery_info.get("routing_key", ""))
    for name, value in changes.items():
        headers.pop(name, None)
        if value is not None:
            headers[name] = value
    return headers


def republish(producer: Producer, message: Message, exchange: str, routing_key: str, headers: dict[str, Any]) -> None:
    """Publish a persistent copy of `message` (body and properties as sent); returns once confirmed."""
    properties = message.properties
    producer.publish(
        message.body,
        exchange=exchange,
        routing_key=routing_key,
        headers=headers,
        content_type=message.content_type or "application/octet-stream",
        content_encoding=message.content_encoding or "binary",
        delivery_mode=2,
        message_id=properties.get("message_id"),
        retry=False,
        timeout=float(settings.INTEGRATION_BROKER_TIMEOUT_SECONDS),
    )


class InboundConsumer:
    """Takes messages off the inbound queue one settled message at a time."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.stopping = threading.Event()
        self._publishing: Connection | None = None
        self._producer: Producer | None = None

    def settle(self, message: Message) -> str:
        """Apply, dead-letter or delay one message, then acknowledge it; returns what happened."""
        try:
            command = to_command(message.body or b"")
            bus.handle(command)
        except RefusedMessage as refused:
            return self.dead_letter(message, str(refused))
        except TRANSIENT as failure:
            # A broken connection must not be reused by the next message.
            with contextlib.suppress(DatabaseError):
                connections.close_all()
            return self.delay(message, f"{type(failure).__name__}: {failure}")
        except DomainError as refused:
            return self.dead_letter(message, f"{type(refused).__name__}: {refused}")
        message.ack()
        return "applied"

    def dead_letter(self, message: Message, reason: str) -> str:
        dead_at = datetime.now(UTC).isoformat(timespec="seconds")
        headers = copy_headers(message, **{REASON_HEADER: reason[:MAX_REASON], DEAD_AT_HEADER: dead_at})
        republish(self._ready(), message, settings.INTEGRATION_DEAD_LETTER_EXCHANGE, headers[ROUTING_HEADER], headers)
        message.ack()
        logger.warning("dead-lettered inbound message %s: %s", message.properties.get("message_id"), reason)
        return "dead-lettered"

    def delay(self, message: Message, reason: str) -> str:
        delays = settings.INTEGRATION_RETRY_DELAYS_SECONDS
        attempts = int((message.headers or {}).get(ATTEMPTS_HEADER, 0))
        if attempts >= len(delays):
            return self.dead_letter(message, f"gave up after {attempts + 1} attempts: {reason}")
        queue = retry_queue(delays[attempts])
        republish(self._ready(), message, "", queue.name, copy_headers(message, **{ATTEMPTS_HEADER: attempts + 1}))
        message.ack()
        message_id = message.properties.get("message_id")
        logger.warning("inbound message %s retried in %ss: %s", message_id, delays[attempts], reason)
        return "delayed"

    def _ready(self) -> Producer:
        if self._producer is None:
            self._publishing = broker.connection(self.url)
            self._producer = Producer(self._publishing.channel())
        return self._producer

    def _close_producer(self) -> None:
        if self._publishing is not None:
            with contextlib.suppress(*broker.BROKER_ERRORS):
                self._publishing.release()
        self._publishing, self._producer = None, None

    def _on_message(self, message: Message) -> None:
        outcome = self.settle(message)
        logger.info("inbound message %s: %s", message.properties.get("message_id"), outcome)

    def run(self, ready: Any = None) -> None:
        """Consume until `stopping` is set; a lost broker is reconnected with growing waits."""
        wait = 0.5
        while not self.stopping.is_set():
            try:
                with broker.connection(self.url) as conn:
                    self._consume(conn, ready)
                    wait = 0.5
            except broker.BROKER_ERRORS as error:
                logger.warning("integration broker unavailable (%s); reconnecting in %.1fs", error, wait)
                self.stopping.wait(wait)
                wait = min(wait * 2, 30.0)
            finally:
                self._close_producer()

    def _consume(self, conn: Connection, ready: Any) -> None:
        channel = conn.channel()
        declare(channel)
        consumer = Consumer(channel, queues=[broker.inbound_queue()], on_message=self._on_message, auto_declare=False)
        consumer.qos(prefetch_count=settings.INTEGRATION_CONSUMER_PREFETCH)
        with consumer:
            if ready is not None:
                ready()
            while not self.stopping.is_set():
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    continue
