"""The base of every command endpoint: parse, authenticate, hand the command to the bus,
answer ids only; the request headers every command takes (Idempotency-Key, If-Match,
X-Correlation-ID), described once for the OpenAPI schema."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from web.throttles import SideThrottle
from writeside import bus
from writeside.api.permissions import CommandPermission
from writeside.commands import Command
from writeside.unit_of_work import CommandResult

COMMAND_HEADERS = [
    OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="A retry with the same key and body returns the first response and changes nothing.",
    ),
    OpenApiParameter(
        "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description='Apply only at this version, e.g. "3".'
    ),
    OpenApiParameter(
        "X-Correlation-ID",
        OpenApiTypes.UUID,
        OpenApiParameter.HEADER,
        description="The story this command continues: a new UUID, or one whose story this user started (else 400).",
    ),
]


class CommandView(APIView):
    """Base of the command endpoints; subclasses say which permission they need."""

    permission_classes = [CommandPermission]
    throttle_classes = [SideThrottle]
    required_permission: ClassVar[str]

    def dispatch_command(self, command: Command, success: int = status.HTTP_200_OK) -> Response:
        """Hand the command to the bus and answer with ids only."""
        result = bus.handle(command)
        return Response(self.body(result), status=success)

    @staticmethod
    def body(result: CommandResult) -> dict[str, Any]:
        """The answer: the ids a context's contract names (each context's base view says)."""
        raise NotImplementedError

    def valid(self, serializer: type[serializers.Serializer], request: Request) -> dict[str, Any]:  # type: ignore[type-arg]
        """The request body, validated (400 otherwise)."""
        parsed = serializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        return dict(parsed.validated_data)
