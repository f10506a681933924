"""The OpenAPI shape of every error answer: an RFC 9457 problem, served as problem+json."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from kernel.money import MAX_MINOR_UNITS


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


def amount_in() -> serializers.DecimalField:
    """An amount in a request: a positive decimal with up to MAX_MINOR_UNITS decimals; the
    domain then holds it to its currency's minor units (kernel/money.py), a 400 past them."""
    return serializers.DecimalField(
        max_digits=12 + MAX_MINOR_UNITS,
        decimal_places=MAX_MINOR_UNITS,
        min_value=Decimal(1).scaleb(-MAX_MINOR_UNITS),
        help_text="A decimal string with at most the currency's ISO 4217 minor-unit digits (JPY 0, EUR 2, KWD 3).",
    )


def problem_responses(descriptions: dict[int, str]) -> dict[tuple[int, str], OpenApiResponse]:
    """OpenAPI error responses: each status with its meaning, served as problem+json."""
    return {(code, PROBLEM_JSON): OpenApiResponse(ProblemOut, description=text) for code, text in descriptions.items()}
