"""Output serializers: DTOs to JSON (amounts as strings with exactly their currency's ISO 4217
minor-unit digits, ISO 8601 times)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from kernel.money import amount_text, catalog_price
from orders.addresses import PaymentMethod
from readmodels.models import MONEY_PLACES, MONEY_SUM_DIGITS


def money(max_digits: int = 14 + MONEY_PLACES, help_text: str | None = None) -> serializers.DecimalField:
    """An amount rendered as a decimal string (`max_digits` in all: DRF refuses to render a
    wider value); a serializer with a currency (InCurrency) writes it with that currency's digits."""
    return serializers.DecimalField(
        max_digits=max_digits, decimal_places=MONEY_PLACES, coerce_to_string=True, help_text=help_text
    )


def _in_currency(data: dict[str, Any], fields: Any, currency: str) -> None:
    """Rewrite every amount of `data` (and of the lists of records nested in it) with the
    currency's digits: any money field a serializer declares gets them, without naming it."""
    for name, field in fields.items():
        value = data.get(name)
        if value is None:
            continue
        if isinstance(field, serializers.DecimalField):
            data[name] = amount_text(Decimal(value), currency)
        elif isinstance(field, serializers.ListSerializer) and isinstance(field.child, serializers.Serializer):
            for item in value:
                _in_currency(item, field.child.fields, currency)


class InCurrency(serializers.Serializer):  # type: ignore[type-arg]
    """A record with a `currency`: its amounts carry exactly that currency's decimals."""

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        _in_currency(data, self.fields, instance.currency)
        return data


class OrderSummaryOut(InCurrency):
    """OrderSummary."""

    order_id = serializers.UUIDField()
    order_number = serializers.CharField()
    customer_id = serializers.CharField()
    status = serializers.CharField()
    item_count = serializers.IntegerField()
    total_amount = money()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    customer_name = serializers.CharField(
        allow_null=True,
        help_text="The shipping address's name; null when the order has none, or once the customer was forgotten.",
    )
    customer_email = serializers.EmailField(
        allow_null=True, help_text="Null when the order has none, or once the customer was forgotten."
    )
    refund_due = money(
        help_text="What the shop still owes the customer back: the payment of a paid order that was cancelled, "
        "any payment captured after the cancellation and the value of returned goods, less refunds paid."
    )
    refunded = money(help_text="What the shop has paid back (POST /api/orders/{id}/refund/, payment.refunded.v1).")


class OrderPageOut(serializers.Serializer):  # type: ignore[type-arg]
    """A page of the order list."""

    count = serializers.IntegerField(
        help_text="How many rows match; with `q`, exact up to 1000 matches and 1000 beyond (see count_exact)."
    )
    count_exact = serializers.BooleanField(
        help_text="False when `count` is a lower bound: a search with more than 1000 matches, whose pages reach "
        "the first 1000."
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderSummaryOut(many=True)


class OrderLineOut(serializers.Serializer):  # type: ignore[type-arg]
    """One line of an order."""

    sku = serializers.CharField()
    name = serializers.CharField(
        allow_null=True,
        help_text="The product's current catalog name; null for an SKU that is not a registered product.",
    )
    quantity = serializers.IntegerField()
    unit_price = money()
    line_total = money()
    returned = serializers.IntegerField(help_text="How many of it came back (POST /api/orders/{id}/return/).")


class TimelineEntryOut(serializers.Serializer):  # type: ignore[type-arg]
    """Something that happened to the order, for people to read."""

    event_type = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    description = serializers.CharField()
    version = serializers.IntegerField()


class AddressOut(serializers.Serializer):  # type: ignore[type-arg]
    """A postal address; `country` is an ISO 3166-1 alpha-2 code. `name`, `line1` and `line2`
    are null once the customer was forgotten (POST /api/customers/{customer_id}/forget/)."""

    name = serializers.CharField(allow_null=True, help_text="Null once the customer was forgotten.")
    line1 = serializers.CharField(allow_null=True, help_text="Null once the customer was forgotten.")
    line2 = serializers.CharField(
        allow_null=True, help_text="Empty when the address has no second line; null once the customer was forgotten."
    )
    postal_code = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()


class OrderDetailOut(OrderSummaryOut):
    """OrderDetail: the summary plus lines, addresses, payment, shipping and timeline."""

    items = OrderLineOut(many=True)
    shipping_address = AddressOut(allow_null=True, help_text="Null when the order has none.")
    billing_address = AddressOut(allow_null=True, help_text="Null when the order has none.")
    payment_method = serializers.ChoiceField(choices=[method.value for method in PaymentMethod], allow_null=True)
    payment_id = serializers.CharField()
    tracking_number = serializers.CharField()
    carrier = serializers.CharField()
    cancel_reason = serializers.CharField()
    timeline = TimelineEntryOut(
        many=True, help_text="The latest entries (50 by default), oldest first; the history has every event."
    )
    timeline_count = serializers.IntegerField(help_text="How many entries the timeline has in all.")


class HistoryEntryOut(serializers.Serializer):  # type: ignore[type-arg]
    """One stored event of the order, as recorded in the event log."""

    event_id = serializers.UUIDField()
    event_type = serializers.CharField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    metadata = serializers.DictField()

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # "data" would shadow Serializer.data if declared as a class attribute.
        fields = super().get_fields()
        fields["data"] = serializers.DictField()
        return fields


class EventPageOut(serializers.Serializer):  # type: ignore[type-arg]
    """A page of events, oldest first, and the link to the next one."""

    next = serializers.URLField(
        allow_null=True, help_text="The next page (same parameters, a later cursor); null on the last page."
    )


class HistoryOut(EventPageOut):
    """The order's events, oldest first, a page at a time (`after_version`, `limit`)."""

    results = HistoryEntryOut(many=True)


class StoryEntryOut(HistoryEntryOut):
    """One stored event of the order's story, from any stream."""

    stream_type = serializers.CharField()
    stream_id = serializers.CharField()


class StoryOut(EventPageOut):
    """The events of every stream sharing the order's correlation ids, oldest first, a page
    at a time (`after_position`, `limit`)."""

    results = StoryEntryOut(many=True)


class CustomerStatsOut(serializers.Serializer):  # type: ignore[type-arg]
    """A customer's order counts and lifetime value per currency (paid, not cancelled orders)."""

    customer_id = serializers.CharField()
    orders_count = serializers.IntegerField()
    open_orders_count = serializers.IntegerField()
    cancelled_orders_count = serializers.IntegerField()
    lifetime_value = serializers.DictField(
        child=money(MONEY_SUM_DIGITS), help_text="Per currency, with that currency's decimals."
    )
    last_order_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["lifetime_value"] = {
            currency: amount_text(Decimal(amount), currency) for currency, amount in data["lifetime_value"].items()
        }
        return data


class ProductStockOut(serializers.Serializer):  # type: ignore[type-arg]
    """ProductStock: available = on_hand - reserved."""

    sku = serializers.CharField()
    name = serializers.CharField()
    price = money(
        help_text="The catalog's list price, in no currency of its own: 2 decimals, 3 when the third is not 0."
    )
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        # A product names no currency: its price reads as given up to 3 decimals, never fewer
        # than the 2 it always had (the rule its event is recorded with).
        data["price"] = str(catalog_price(Decimal(data["price"])))
        return data


class ProductPageOut(serializers.Serializer):  # type: ignore[type-arg]
    """A page of the product list."""

    count = serializers.IntegerField(
        help_text="How many rows match; with `q`, exact up to 1000 matches and 1000 beyond (see count_exact)."
    )
    count_exact = serializers.BooleanField(
        help_text="False when `count` is a lower bound: a search with more than 1000 matches, whose pages reach "
        "the first 1000."
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ProductStockOut(many=True)
