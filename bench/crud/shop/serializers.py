"""Request validation and the response shapes (the product's OrderSummary and OrderDetail fields)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from rest_framework import serializers

from bench.crud.shop.models import Order, OrderLine

CENT = Decimal("0.01")


class LineInput(serializers.Serializer[Any]):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=CENT)


class OrderCreate(serializers.Serializer[Any]):
    customer_id = serializers.CharField(max_length=64)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    items = LineInput(many=True, allow_empty=False, max_length=50)

    def validate_items(self, items: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        if len({item["sku"] for item in items}) != len(items):
            raise serializers.ValidationError("Each SKU once per order.")
        return items

    def create(self, validated_data: dict[str, Any]) -> Order:
        items = validated_data.pop("items")
        total = sum((item["quantity"] * item["unit_price"] for item in items), Decimal("0.00"))
        with transaction.atomic():
            order = Order.objects.create(**validated_data, item_count=len(items), total_amount=total)
            OrderLine.objects.bulk_create(OrderLine(order=order, **item) for item in items)
        return order


class Payment(serializers.Serializer[Any]):
    payment_id = serializers.CharField(max_length=64)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=CENT)


class Shipment(serializers.Serializer[Any]):
    tracking_number = serializers.CharField(max_length=64)
    carrier = serializers.CharField(max_length=64, required=False, default="")


class OrderSummary(serializers.ModelSerializer[Order]):
    order_id = serializers.UUIDField(source="id", read_only=True)

    class Meta:
        model = Order
        fields = [
            "order_id", "customer_id", "status", "item_count", "total_amount", "currency",
            "created_at", "updated_at", "version",
        ]  # fmt: skip


class Line(serializers.ModelSerializer[OrderLine]):
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = OrderLine
        fields = ["sku", "quantity", "unit_price", "line_total"]


class OrderDetail(OrderSummary):
    items = Line(source="lines", many=True, read_only=True)

    class Meta(OrderSummary.Meta):
        fields = [*OrderSummary.Meta.fields, "items", "payment_id", "tracking_number", "carrier"]
