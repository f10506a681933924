"""Dead-lettered inbound messages, read from `backoffice.inbound.dead` itself, and replayed.

The queue is the record: the consumer dead-letters exactly when the database may be
unreachable (retries exhausted), so a table it writes could miss those. Listing takes up to
`limit` messages without acknowledging them and closes the channel, which puts them all back.
Each is named by its `key`, a digest of the message itself: two messages may share an id (a
partner reusing one, or two dead copies of one message), and a replay takes the very one the
operator picked. Replaying publishes a copy to the inbound exchange under the routing key the
consumer recorded (never one a sender set), mandatory and confirmed, with the sender's own
headers only, and acknowledges the dead one only then: a copy the broker could not route
raises, and the message stays dead. A replayed message keeps its `(source, id)`: if it had
been applied, replaying it changes nothing. Everything shown is parsed as anyone's: a dead
message may be anything at all. The management command and the admin page both list and
replay through here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from kombu import Producer
from kombu.message import Message

from integration import broker
from integration.consumer import (
    ATTEMPTS_HEADER,
    DEAD_AT_HEADER,
    REASON_HEADER,
    ROUTING_HEADER,
    attempts_of,
    encodable,
    republish,
    sender_headers,
    shown_id,
)

DEFAULT_LIMIT = 100
PREVIEW = 500
DATA_PREVIEW = 120


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadMessage:
    """One dead-lettered message as an operator sees it."""

    key: str  # names this very message among the dead (its digest); what a replay asks for
    message_id: str
    routing_key: str
    reason: str
    attempts: int
    body: str
    type: str  # the CloudEvents type, or the routing key when the body has none
    source: str  # the CloudEvents source ("" when the body is not a JSON object)
    dead_lettered_at: str  # ISO 8601; "" for copies dead-lettered before it was recorded
    data_preview: str  # the start of `data` as JSON, or of the raw body


def _body(message: Message) -> bytes:
    return message.body if isinstance(message.body, bytes) else str(message.body).encode("utf-8", "surrogatepass")


def key_of(message: Message) -> str:
    """A digest of the message's id, headers and body: the same for the same message each time
    it is taken, different for two that differ in anything (byte-identical copies are one)."""
    headers = sorted((message.headers or {}).items(), key=lambda item: str(item[0]))
    digest = hashlib.sha256(repr((message.properties.get("message_id"), headers)).encode("utf-8", "surrogatepass"))
    digest.update(_body(message))
    return digest.hexdigest()[:32]


def _attributes(body: bytes) -> dict[str, Any]:
    """The body's top-level JSON object, or {} (a dead message may be anything at all,
    nested deeper than the parser's recursion limit too)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _text(value: Any) -> str:
    return encodable(str(value or ""))


def _describe(message: Message) -> DeadMessage:
    headers = message.headers or {}
    body = _body(message)
    text = body[:PREVIEW].decode("utf-8", errors="replace")
    attributes = _attributes(body)
    routing_key = _text(headers.get(ROUTING_HEADER))
    data = json.dumps(attributes["data"]) if "data" in attributes else text
    return DeadMessage(
        key=key_of(message),
        message_id=shown_id(message),
        routing_key=routing_key,
        reason=_text(headers.get(REASON_HEADER)),
        attempts=attempts_of(headers.get(ATTEMPTS_HEADER)),
        body=text,
        type=_text(attributes.get("type")) or routing_key,
        source=_text(attributes.get("source")),
        dead_lettered_at=_text(headers.get(DEAD_AT_HEADER)),
        data_preview=data if len(data) <= DATA_PREVIEW else data[: DATA_PREVIEW - 1] + "…",
    )


@contextmanager
def _taken(limit: int) -> Iterator[list[Message]]:
    """Up to `limit` dead messages, unacknowledged; every one not acked goes back on exit."""
    with broker.connection() as conn:
        channel: Any = conn.channel()  # kombu's stub types it as the bare protocol
        broker.declare_inbound(channel)
        queue = broker.dead_letter_queue()(channel)
        messages: list[Message] = []
        while len(messages) < limit:
            message = queue.get(no_ack=False, accept=None)
            if message is None:
                break
            messages.append(message)
        yield messages
        channel.close()  # unacknowledged messages return to the queue


def dead_messages(limit: int = DEFAULT_LIMIT) -> list[DeadMessage]:
    """The first `limit` dead-lettered inbound messages, oldest first; none is removed."""
    with _taken(limit) as messages:
        return [_describe(message) for message in messages]


def replay(key: str, limit: int = DEFAULT_LIMIT) -> DeadMessage | None:
    """Send the dead message named `key` (among the first `limit`) to the inbound exchange
    again and return it; None if it is not there. A broker error (unreachable, no confirm, or
    NoRoute for a routing key nothing binds) propagates and leaves the message dead."""
    with _taken(limit) as messages:
        found = next((m for m in messages if key_of(m) == key), None)
        if found is None:
            return None
        routing_key = str((found.headers or {}).get(ROUTING_HEADER, ""))
        with broker.connection() as publishing:
            producer = Producer(publishing.channel())
            republish(
                producer, found, settings.INTEGRATION_INBOUND_EXCHANGE, routing_key, sender_headers(found.headers)
            )
        found.ack()
        return _describe(found)
