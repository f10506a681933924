"""Input serializers: the shape and types of each command's request body."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from orders.addresses import (
    CITY_LENGTH,
    LINE_LENGTH,
    NAME_LENGTH,
    POSTAL_CODE_LENGTH,
    Address,
    PaymentMethod,
    is_country,
)
from orders.commands import CreateOrder, LineItem
from orders.events import MAX_QUANTITY, ReturnedLine
from web.serializers import amount_in


class LineItemIn(serializers.Serializer):  # type: ignore[type-arg]
    """One requested order line."""

    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price = amount_in()


def _country(code: str) -> None:
    if not is_country(code):
        raise serializers.ValidationError("Must be an ISO 3166-1 alpha-2 code like DE.")


class AddressIn(serializers.Serializer):  # type: ignore[type-arg]
    """A postal address; becomes an orders.addresses.Address."""

    name = serializers.CharField(max_length=NAME_LENGTH)
    line1 = serializers.CharField(max_length=LINE_LENGTH)
    line2 = serializers.CharField(max_length=LINE_LENGTH, required=False, default="", allow_blank=True)
    postal_code = serializers.CharField(max_length=POSTAL_CODE_LENGTH)
    city = serializers.CharField(max_length=CITY_LENGTH)
    country = serializers.CharField(
        min_length=2, max_length=2, validators=[_country], help_text="ISO 3166-1 alpha-2, e.g. DE."
    )

    def to_internal_value(self, data: object) -> Address:
        return Address(**super().to_internal_value(data))


class CreateOrderIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/orders/. More than 50 lines is a business rule (422), not a shape error."""

    customer_id = serializers.CharField(max_length=64)
    currency = serializers.RegexField(r"^[A-Z]{3}$", error_messages={"invalid": "Must be an ISO 4217 code like EUR."})
    items = serializers.ListField(child=LineItemIn(), min_length=1, max_length=1000)
    customer_email = serializers.EmailField(max_length=254, required=False, default="")
    shipping_address = AddressIn(required=False, default=None, allow_null=True)
    billing_address = AddressIn(
        required=False, default=None, allow_null=True, help_text="Defaults to the shipping address."
    )
    payment_method = serializers.ChoiceField(
        choices=[method.value for method in PaymentMethod], required=False, default=None, allow_null=True
    )


def create_order(data: dict[str, Any], **options: Any) -> CreateOrder:
    """The CreateOrder a valid CreateOrderIn body asks for (the API and the admin's phone order
    send the same command); `options` are the command's id, metadata and pinned version."""
    return CreateOrder(
        customer_id=data["customer_id"],
        currency=data["currency"],
        items=tuple(LineItem(**item) for item in data["items"]),
        customer_email=data["customer_email"],
        shipping_address=data["shipping_address"],
        billing_address=data["billing_address"],
        payment_method=data["payment_method"] and PaymentMethod(data["payment_method"]),
        **options,
    )


class ChangeShippingAddressIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/orders/{id}/address/."""

    shipping_address = AddressIn()


class PayOrderIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/orders/{id}/pay/."""

    payment_id = serializers.CharField(max_length=255)
    amount = amount_in()


class ShipOrderIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/orders/{id}/ship/."""

    tracking_number = serializers.CharField(max_length=255)
    carrier = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


class CancelOrderIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/orders/{id}/cancel/."""

    reason = serializers.CharField(max_length=500)


class RefundOrderIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/orders/{id}/refund/: a refund paid, named by the payout's id."""

    refund_id = serializers.CharField(max_length=255)
    amount = amount_in()


class ReturnedLineIn(serializers.Serializer):  # type: ignore[type-arg]
    """One SKU coming back, and how many of it."""

    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    def to_internal_value(self, data: object) -> ReturnedLine:
        return ReturnedLine(**super().to_internal_value(data))


class ReturnOrderIn(serializers.Serializer):  # type: ignore[type-arg]
    """Body of POST /api/orders/{id}/return/. A SKU not on the order, or more of it than was
    delivered and not returned yet, is a business rule (422), not a shape error."""

    lines = serializers.ListField(child=ReturnedLineIn(), min_length=1, max_length=1000)
    reason = serializers.CharField(max_length=500)
    restock = serializers.BooleanField(help_text="Put registered SKUs back on hand.")


class CommandResultOut(serializers.Serializer):  # type: ignore[type-arg]
    """What every command answers: ids, never the order's data."""

    order_id = serializers.UUIDField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()


class CustomerForgottenOut(serializers.Serializer):  # type: ignore[type-arg]
    """The answer to forgetting a customer: who, and when their data was erased."""

    customer_id = serializers.CharField()
    forgotten_at = serializers.DateTimeField()
