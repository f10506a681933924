"""Sending one command from an admin page (each context's command pages: orders/admin,
inventory/admin): the API's serializer checks the input, the bus sends the command (with
the person as its user and "admin" as its source), and every refusal, of the input or of
the domain, becomes a message with its reason. Nothing is appended unless it is accepted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework import serializers

from kernel.errors import DomainError
from writeside import bus
from writeside.commands import Command, CommandMetadata

Build = Callable[[dict[str, Any], CommandMetadata], Command]


def api_errors(errors: Any, field: str = "") -> list[str]:
    """A serializer's errors as "field: reason" lines (nested fields dotted, lines numbered)."""
    if isinstance(errors, dict):
        # A list's errors are keyed by index: counted from 1, as a person counts lines.
        return [
            line
            for key, value in errors.items()
            for line in api_errors(
                value, f"{field} {key + 1}" if isinstance(key, int) else f"{field}.{key}".lstrip(".")
            )
        ]
    if isinstance(errors, list) and errors and not isinstance(errors[0], str):
        return [line for n, value in enumerate(errors, 1) if value for line in api_errors(value, f"{field} {n}")]
    reasons = errors if isinstance(errors, list) else [errors]
    return [f"{field.replace('non_field_errors', 'input')}: {reason}" for reason in reasons]


def send(
    request: HttpRequest, serializer_class: type[serializers.Serializer[Any]] | None, body: dict[str, Any], build: Build
) -> bool:
    """Check `body` with the API's serializer (None: the command takes no input) and send the
    command `build(data, metadata)` makes; True once it is appended, else every reason is an
    error message and nothing was appended."""
    data: dict[str, Any] = {}
    if serializer_class is not None:
        serializer = serializer_class(data=body)
        if not serializer.is_valid():
            for line in api_errors(serializer.errors):
                messages.error(request, f"Refused, {line}")
            return False
        data = dict(serializer.validated_data)
    command = build(data, CommandMetadata(user=request.user.get_username(), source="admin"))
    try:
        bus.handle(command)
    except DomainError as error:
        messages.error(request, f"Refused, {error}")
        return False
    return True


def require(request: HttpRequest, permission: str) -> None:
    """The API endpoint's permission for the same command (orders/api/permissions.py), else 403."""
    if not request.user.has_perm(permission):
        raise PermissionDenied
