"""HTTP concerns of the command endpoints: the order id in the path and the headers commands
take (Idempotency-Key, If-Match, X-Correlation-ID)."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid4

from rest_framework import exceptions
from rest_framework.request import Request

from eventlog.store import event_store
from writeside.commands import CommandMetadata

MAX_IDEMPOTENCY_KEY = 255
# Printable text only: a control character (a NUL above all, which PostgreSQL cannot store) in
# a key is a client's mistake to say, not a command to run.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# "3", W/"3" or a bare 3; ASCII digits only.
_IF_MATCH = re.compile(r'\s*(?:W/)?(?:"([0-9]{1,9})"|([0-9]{1,9}))\s*')


def command_metadata(request: Request, source: str = "api") -> CommandMetadata:
    """Who asks and the story the command belongs to: X-Correlation-ID if it is a UUID (else
    a new one), and only if the story it names is new or was started by this same user."""
    user = request.user.get_username()
    header = request.headers.get("X-Correlation-ID", "")
    try:
        correlation = UUID(header)
    except ValueError:
        return CommandMetadata(correlation_id=uuid4(), user=user, source=source)
    # A story's events are those sharing its correlation id (readmodels/selectors/stories.py),
    # so another user's id would put this command's events into that user's story. Who started
    # the story decides, not who added to it: the fulfilment process manager adds events to a
    # client's story under no user.
    origin = event_store().story_origin(str(correlation))
    if origin is not None and origin.get("user") != user:
        raise exceptions.ValidationError(
            {"X-Correlation-ID": ["Another user's story has this correlation id; send a new UUID or none."]}
        )
    return CommandMetadata(correlation_id=correlation, user=user, source=source)


def command_options(request: Request) -> dict[str, Any]:
    """command_id from Idempotency-Key (scoped to the user), expected_version from If-Match."""
    options: dict[str, Any] = {"metadata": command_metadata(request)}
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY or _CONTROL.search(key):
            raise exceptions.ValidationError(
                {"Idempotency-Key": ["Must be 1 to 255 characters, none of them a control character."]}
            )
        options["command_id"] = f"{request.user.pk}:{key}"
    if_match = request.headers.get("If-Match")
    # "*" matches any version of an existing order: no pin.
    if if_match is not None and if_match.strip() != "*":
        match = _IF_MATCH.fullmatch(if_match)
        if match is None:
            raise exceptions.ValidationError({"If-Match": ['Must be the order version, like "3".']})
        options["expected_version"] = int(match.group(1) or match.group(2))
    return options
