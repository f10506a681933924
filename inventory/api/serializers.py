"""Request and response shapes of the product command endpoints."""

from __future__ import annotations

from rest_framework import serializers

from inventory.events import MAX_PRODUCT_SKU, MAX_RECEIPT, PRODUCT_SKU_PATTERN
from writeside.api.serializers import amount_in


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


class ProductCommandResultOut(serializers.Serializer):  # type: ignore[type-arg]
    """What every product command answers: ids, never the product's data."""

    sku = serializers.CharField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()
