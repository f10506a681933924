"""Inbound messages become commands: one CloudEvent, one command, with the same rules as the API.

The command id derives from the message's `(source, id)` alone, so a redelivered or
duplicated message names the command already handled and the bus returns its first result
(the id is recorded in the command's own transaction, eventlog/idempotency.py). The data is
checked with the API's own serializers; anything that is not a CloudEvents JSON event of a
type we take, with valid data, raises RefusedMessage, which the consumer dead-letters.

Text is checked at the boundary, before anything reaches the database: no string anywhere in
the event (id, source, type, subject, extensions, data, keys too) may hold a NUL, which
PostgreSQL's text and jsonb refuse, or a lone surrogate (JSON's `\ud800` escapes can spell one),
which UTF-8 cannot encode; and the source must fit where it is recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from rest_framework import serializers

from integration.envelope import MalformedMessage, decode
from integration.language import (
    INBOUND_TYPES,
    PAYMENT_CAPTURED,
    PAYMENT_REFUNDED,
    SHIPMENT_DELIVERED,
    SHIPMENT_DISPATCHED,
)
from kernel.storable import unstorable_at
from orders.api.serializers import PayOrderIn, RefundOrderIn
from orders.commands import DeliverOrder, PayOrder, RefundOrder, ShipOrder
from writeside.commands import Command, CommandMetadata

METADATA_SOURCE = "integration"
USER_PREFIX = "integration:"
# The source is recorded as the user `integration:<source>`, in the command's own transaction;
# the audit's `user` column (audit/models.py) is sized for the prefix and this many characters.
MAX_SOURCE = 255


class RefusedMessage(ValueError):
    """A message that can never become a command (malformed, unknown type, invalid data)."""


class InboundOrderIn(serializers.Serializer):  # type: ignore[type-arg]
    """Every inbound type names the order it is about."""

    order_id = serializers.UUIDField()


class PaymentCapturedIn(InboundOrderIn, PayOrderIn):
    """`payment.captured.v1` data: the API's pay body plus the order and its currency."""

    currency = serializers.RegexField(r"^[A-Z]{3}$")


class PaymentRefundedIn(InboundOrderIn, RefundOrderIn):
    """`payment.refunded.v1` data: the API's refund body plus the order and its currency."""

    currency = serializers.RegexField(r"^[A-Z]{3}$")


class ShipmentDispatchedIn(InboundOrderIn):
    """`shipment.dispatched.v1` data: the tracking number (as the API's ship body) and the order."""

    tracking_number = serializers.CharField(max_length=255)


def command_id(source: str, message_id: str) -> str:
    """The command id of the message `(source, id)`: stable, and never an API key's shape
    (those are `<user pk>:<key>`)."""
    digest = hashlib.sha256(json.dumps([source, message_id]).encode()).hexdigest()
    return f"inbound:{digest}"


def _valid(serializer: type[serializers.Serializer], data: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    if not isinstance(data, dict):
        raise RefusedMessage("invalid data: must be a JSON object")
    parsed = serializer(data=data)
    if not parsed.is_valid():
        raise RefusedMessage(f"invalid data: {json.dumps(parsed.errors, sort_keys=True)}")
    return dict(parsed.validated_data)


def _pay(data: Any, options: dict[str, Any]) -> Command:
    valid = _valid(PaymentCapturedIn, data)
    return PayOrder(**valid, **options)


def _refund(data: Any, options: dict[str, Any]) -> Command:
    valid = _valid(PaymentRefundedIn, data)
    return RefundOrder(**valid, **options)


def _ship(data: Any, options: dict[str, Any]) -> Command:
    valid = _valid(ShipmentDispatchedIn, data)
    return ShipOrder(order_id=valid["order_id"], tracking_number=valid["tracking_number"], **options)


def _deliver(data: Any, options: dict[str, Any]) -> Command:
    valid = _valid(InboundOrderIn, data)
    return DeliverOrder(order_id=valid["order_id"], **options)


# The one place that says which inbound type becomes which command.
TRANSLATIONS: dict[str, Callable[[Any, dict[str, Any]], Command]] = {
    PAYMENT_CAPTURED: _pay,
    SHIPMENT_DISPATCHED: _ship,
    SHIPMENT_DELIVERED: _deliver,
    PAYMENT_REFUNDED: _refund,
}
assert set(TRANSLATIONS) == set(INBOUND_TYPES)


def check_text(where: str, value: Any) -> None:
    """RefusedMessage naming the first string in `value` that no row can hold
    (kernel/storable.py)."""
    if reason := unstorable_at(value, where):
        raise RefusedMessage(reason)


def to_command(body: bytes | str) -> Command:
    """The command one inbound message asks for; RefusedMessage if it can never be one."""
    try:
        event = decode(body)
    except MalformedMessage as error:
        raise RefusedMessage(str(error)) from error
    for name, value in event.get_attributes().items():
        check_text(name, value)
    check_text("data", event.get_data())
    translate = TRANSLATIONS.get(event.get_type())
    if translate is None:
        raise RefusedMessage(f"unknown type {event.get_type()!r}")
    source, message_id = event.get_source(), event.get_id()
    if len(source) > MAX_SOURCE:
        raise RefusedMessage(f"source: longer than {MAX_SOURCE} characters")
    options_id = command_id(source, message_id)
    options = {
        "command_id": options_id,
        "metadata": CommandMetadata(
            # Its own story, the same for every redelivery; never one the sender names, which
            # could be a story of an API user's (writeside/api/http.py refuses that too).
            correlation_id=uuid5(NAMESPACE_URL, options_id),
            user=f"{USER_PREFIX}{source}",
            source=METADATA_SOURCE,
        ),
    }
    return translate(event.get_data(), options)
