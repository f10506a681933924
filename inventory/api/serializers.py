"""Request and response shapes of the product command endpoints."""

from __future__ import annotations

from rest_framework import serializers

from inventory.events import (
    MAX_ADJUSTMENT,
    MAX_ADJUSTMENT_REASON,
    MAX_PRODUCT_SKU,
    MAX_RECEIPT,
    PRODUCT_SKU_PATTERN,
    check_quantity_delta,
)
from kernel.errors import InvalidValue
from web.serializers import amount_in


class RegisterProductIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/products/."""

    sku = serializers.RegexField(
        PRODUCT_SKU_PATTERN,
        max_length=MAX_PRODUCT_SKU,
        error_messages={"invalid": "Use letters, digits, '.', '_' or '-', starting with a letter or digit."},
    )
    name = serializers.CharField(max_length=200)
    price = amount_in()


class ReceiveStockIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/products/{sku}/receive/."""

    quantity = serializers.IntegerField(min_value=1, max_value=MAX_RECEIPT)


class RenameProductIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/products/{sku}/rename/."""

    name = serializers.CharField(max_length=200)


class AdjustStockIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/products/{sku}/adjust/: a count's correction or a write-off."""

    quantity_delta = serializers.IntegerField(
        min_value=-MAX_ADJUSTMENT, max_value=MAX_ADJUSTMENT, help_text="Units added (positive) or removed (negative)."
    )
    reason = serializers.CharField(max_length=MAX_ADJUSTMENT_REASON, help_text="Why: a count, damaged, lost...")

    def validate_quantity_delta(self, value: int) -> int:
        """Non-zero, by the domain's own rule."""
        try:
            check_quantity_delta(value)
        except InvalidValue as error:
            raise serializers.ValidationError(error.message) from None
        return value


class ProductCommandResultOut(serializers.Serializer):  # type: ignore[type-arg]
    """What every product command answers: ids, never the product's data."""

    sku = serializers.CharField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()
