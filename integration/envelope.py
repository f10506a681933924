"""The CloudEvents 1.0 envelope, structured JSON mode, built and read with the CloudEvents SDK.

Outbound: `id` is the stored event's id (stable across redeliveries), `sequence` the
subject's stream version as a decimal string. Inbound: anything that is not a valid
CloudEvents JSON document raises MalformedMessage, which the consumer dead-letters at once.
"""

from __future__ import annotations

from typing import Any

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from integration.language import SOURCE, PublicEvent

CONTENT_TYPE = JSONFormat.CONTENT_TYPE  # application/cloudevents+json
_FORMAT = JSONFormat()


class MalformedMessage(ValueError):
    """A message body that is not a CloudEvents 1.0 structured JSON event."""


def encode(public: PublicEvent) -> bytes:
    """The structured-mode JSON body of one outbound event."""
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": public.id,
        "source": SOURCE,
        "type": public.type,
        "subject": public.subject,
        "time": public.time,
        "datacontenttype": "application/json",
        "sequence": str(public.sequence),
        "correlationid": public.correlation_id,
        "causationid": public.causation_id,
    }
    return _FORMAT.write(CloudEvent(attributes, public.data))


def decode(body: bytes | str) -> BaseCloudEvent:
    """Parse an inbound body; MalformedMessage if it is not a CloudEvents JSON event."""
    try:
        event = _FORMAT.read(CloudEvent, body)
    except (BaseCloudEventException, ValueError, TypeError, AttributeError) as error:
        raise MalformedMessage(f"not a CloudEvents 1.0 JSON event: {error}") from error
    if event.get_specversion() != "1.0":
        raise MalformedMessage(f"specversion must be 1.0, not {event.get_specversion()!r}")
    return event
