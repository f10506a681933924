"""The OpenAPI shape of every error answer: an RFC 9457 problem, served as problem+json."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ProblemOut(serializers.Serializer):  # type: ignore[type-arg]
    """An RFC 9457 problem."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # "errors" would shadow Serializer.errors if declared as a class attribute.
        fields = super().get_fields()
        fields["errors"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        )
        return fields


PROBLEM_JSON = "application/problem+json"


def problem_responses(descriptions: dict[int, str]) -> dict[tuple[int, str], OpenApiResponse]:
    """OpenAPI error responses: each status with its meaning, served as problem+json."""
    return {(code, PROBLEM_JSON): OpenApiResponse(ProblemOut, description=text) for code, text in descriptions.items()}
