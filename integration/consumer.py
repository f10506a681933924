"""The inbound consumer: each message from `backoffice.inbound` becomes one command, exactly
once in effect, and is acknowledged only once its fate is settled for good.

* Applied (or handled before: the command id derives from `(source, id)`, integration/inbound.py)
  → acknowledged after the command's transaction committed.
* Refused for good (malformed, text no column can hold, unknown type, invalid data, a
  DomainError: unknown order, wrong state, amount mismatch, or any other failure the message
  itself causes) → a copy goes to the dead-letter exchange with `x-rejection-reason`,
  confirmed by the broker, and only then is the original acknowledged. No message makes the
  consumer exit: one that did would be delivered again to the next consumer, and stop it too.
* Transient (TRANSIENT below: the database unreachable, a write conflict that outlived the
  bus's retries...) → a copy goes to the next TTL'd delay queue, which dead-letters it back
  to the inbound queue when its time is up, counting attempts in `x-attempts`; after the last
  delay it is dead-lettered like a refusal.

The `x-` headers below are ours: what a sender sets under those names is dropped on arrival,
and ours are parsed as if anyone could have set them. Every copy is published mandatory and
confirmed, so one the broker cannot route raises instead of vanishing.

A crash between the confirmed copy and the ack leaves both: the original is delivered again and
settles the same way (a second dead copy, or a command already handled). Publishing runs on a
connection of its own, so waiting for a confirm never dispatches another delivery re-entrantly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, InternalError, OperationalError, ProgrammingError, connections
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.message import Message

from integration import broker
from integration.inbound import RefusedMessage, to_command
from integration.language import INBOUND_TYPES
from kernel.errors import ConcurrencyConflict, DomainError
from writeside import bus

logger = logging.getLogger(__name__)

REASON_HEADER = "x-rejection-reason"
ATTEMPTS_HEADER = "x-attempts"
# The routing key the sender used (the type), kept on copies so a replay routes like the original.
ROUTING_HEADER = "x-original-routing-key"
# When the message was dead-lettered (ISO 8601, UTC), for the operator who finds it there.
DEAD_AT_HEADER = "x-dead-lettered-at"
CONTROL_HEADERS = (REASON_HEADER, ATTEMPTS_HEADER, ROUTING_HEADER, DEAD_AT_HEADER)
# Failures of the moment, not of the message, which another attempt may get past: the database
# unreachable or its connection broken (OperationalError, InterfaceError), the server in a state
# of its own (InternalError), a schema the code does not match yet, mid-deploy (ProgrammingError:
# SQL class 42, which no value can cause, since values always travel as parameters), a write
# conflict that outlived the bus's retries, or a socket to another service failing (OSError).
# They wait in the delay queues. Every other failure is the message's own: the same message fails
# the same way each time (a DataError for a value a column cannot hold, an IntegrityError, a bug
# its data reaches), so retrying would only postpone its dead letter, and it is dead-lettered at
# once, with the failure as its reason, to be replayed once the cause is fixed.
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    InternalError,
    ProgrammingError,
    ConcurrencyConflict,
    OSError,
)
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


def attempts_of(value: Any) -> int:
    """An `x-attempts` value as a count: anything but a whole number from 0 up (one a sender
    set, or a dead letter's from before the header was ours alone) counts as none."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def encodable(text: str) -> str:
    """`text` with what UTF-8 cannot carry (a lone surrogate, which a JSON escape can spell)
    written as its escape: for a header, a page or a terminal."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown_id(message: Message) -> str:
    """The message's AMQP `message_id`, as its sender set it, for a log line or a page."""
    return encodable(str(message.properties.get("message_id") or ""))


def sender_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """`headers` without our control headers."""
    return {name: value for name, value in (headers or {}).items() if name not in CONTROL_HEADERS}


@dataclass(frozen=True, slots=True)
class Arrival:
    """How a message reached the inbound queue, as far as we can vouch for it."""

    routing_key: str  # the routing key the sender published it under
    attempts: int  # how many delays it waited out
    headers: dict[str, Any]  # the sender's own headers


def arrival(message: Message) -> Arrival:
    """Where `message` came from, with no control header taken from a sender."""
    headers = message.headers or {}
    delivery = message.delivery_info
    key = str(delivery.get("routing_key", ""))
    if delivery.get("exchange") != "":
        # Through the inbound exchange: a sender's message (or a replay), which has not met us.
        return Arrival(key, 0, sender_headers(headers))
    # Dead-lettered back by one of our delay queues to the default exchange, carrying the copy's
    # headers we set. A sender may publish straight to our queue through that exchange too, so
    # they are parsed as anyone's: a recorded routing key counts only if we bind it.
    recorded = headers.get(ROUTING_HEADER)
    routing_key = recorded if isinstance(recorded, str) and recorded in INBOUND_TYPES else key
    return Arrival(routing_key, attempts_of(headers.get(ATTEMPTS_HEADER)), sender_headers(headers))


def republish(producer: Producer, message: Message, exchange: str, routing_key: str, headers: dict[str, Any]) -> None:
    """Publish a persistent copy of `message` (body and properties as sent); returns once confirmed.
    Mandatory: a copy no queue would take comes back, raising an AMQP error (NoRoute), so the
    caller never acknowledges an original whose copy went nowhere."""
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
        mandatory=True,
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
        """Apply, dead-letter or delay one message, then acknowledge it; returns what happened.
        A broker failure while dead-lettering or delaying propagates: the message, unacknowledged,
        is delivered again once `run` has reconnected."""
        arrived = arrival(message)
        try:
            command = to_command(message.body or b"")
            bus.handle(command)
        except RefusedMessage as refused:
            return self.dead_letter(message, arrived, str(refused))
        except TRANSIENT as failure:
            # A broken connection must not be reused by the next message.
            with contextlib.suppress(DatabaseError):
                connections.close_all()
            return self.delay(message, arrived, f"{type(failure).__name__}: {failure}")
        except DomainError as refused:
            return self.dead_letter(message, arrived, f"{type(refused).__name__}: {refused}")
        except Exception as failure:
            # The message's own failure (TRANSIENT says why): dead-lettered, never fatal.
            logger.exception("inbound message %s failed", shown_id(message))
            return self.dead_letter(message, arrived, f"{type(failure).__name__}: {failure}")
        message.ack()
        return "applied"

    def dead_letter(self, message: Message, arrived: Arrival, reason: str) -> str:
        reason = encodable(reason[:MAX_REASON])
        dead_at = datetime.now(UTC).isoformat(timespec="seconds")
        headers = {
            **arrived.headers,
            ROUTING_HEADER: arrived.routing_key,
            ATTEMPTS_HEADER: arrived.attempts,
            REASON_HEADER: reason,
            DEAD_AT_HEADER: dead_at,
        }
        republish(self._ready(), message, settings.INTEGRATION_DEAD_LETTER_EXCHANGE, arrived.routing_key, headers)
        message.ack()
        logger.warning("dead-lettered inbound message %s: %s", shown_id(message), reason)
        return "dead-lettered"

    def delay(self, message: Message, arrived: Arrival, reason: str) -> str:
        delays = settings.INTEGRATION_RETRY_DELAYS_SECONDS
        attempts = arrived.attempts
        if attempts >= len(delays):
            return self.dead_letter(message, arrived, f"gave up after {attempts + 1} attempts: {reason}")
        queue = retry_queue(delays[attempts])
        headers = {**arrived.headers, ROUTING_HEADER: arrived.routing_key, ATTEMPTS_HEADER: attempts + 1}
        republish(self._ready(), message, "", queue.name, headers)
        message.ack()
        message_id = shown_id(message)
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
        logger.info("inbound message %s: %s", shown_id(message), outcome)

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
