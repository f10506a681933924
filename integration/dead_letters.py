"""Dead-lettered inbound messages, read from `backoffice.inbound.dead` itself, and replayed.

The queue is the one record: the consumer dead-letters exactly when the database may be
unreachable (retries exhausted), so a table it writes could miss those. Listing takes up to
`limit` messages without acknowledging them and closes the channel, which puts them all back;
replaying one publishes a copy (confirmed) to the inbound exchange under the type it was sent
with, its attempts, reason and time cleared, and only then acknowledges it in the dead queue.
A replayed message keeps its `(source, id)`: if it had been applied, replaying it changes
nothing. The management command and the admin page both list and replay through here.
"""

from __future__ import annotations

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
    copy_headers,
    republish,
)

DEFAULT_LIMIT = 100
PREVIEW = 500
DATA_PREVIEW = 120


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadMessage:
    """One dead-lettered message as an operator sees it."""

    message_id: str
    routing_key: str
    reason: str
    attempts: int
    body: str
    type: str  # the CloudEvents type, or the routing key when the body has none
    source: str  # the CloudEvents source ("" when the body is not a JSON object)
    dead_lettered_at: str  # ISO 8601; "" for copies dead-lettered before it was recorded
    data_preview: str  # the start of `data` as JSON, or of the raw body


def _attributes(body: bytes) -> dict[str, Any]:
    """The body's top-level JSON object, or {} (a dead message may be anything at all)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _describe(message: Message) -> DeadMessage:
    headers = message.headers or {}
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    text = body[:PREVIEW].decode("utf-8", errors="replace")
    attributes = _attributes(body)
    routing_key = str(headers.get(ROUTING_HEADER, ""))
    data = json.dumps(attributes["data"]) if "data" in attributes else text
    return DeadMessage(
        message_id=str(message.properties.get("message_id") or ""),
        routing_key=routing_key,
        reason=str(headers.get(REASON_HEADER, "")),
        attempts=int(headers.get(ATTEMPTS_HEADER, 0)),
        body=text,
        type=str(attributes.get("type") or routing_key),
        source=str(attributes.get("source") or ""),
        dead_lettered_at=str(headers.get(DEAD_AT_HEADER, "")),
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


def replay(message_id: str, limit: int = DEFAULT_LIMIT) -> bool:
    """Send the dead message `message_id` (among the first `limit`) to the inbound exchange
    again; False if it is not there."""
    with _taken(limit) as messages:
        found = next((m for m in messages if m.properties.get("message_id") == message_id), None)
        if found is None:
            return False
        headers = copy_headers(found, **{REASON_HEADER: None, ATTEMPTS_HEADER: None, DEAD_AT_HEADER: None})
        with broker.connection() as publishing:
            producer = Producer(publishing.channel())
            republish(producer, found, settings.INTEGRATION_INBOUND_EXCHANGE, headers[ROUTING_HEADER], headers)
        found.ack()
        return True
