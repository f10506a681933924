"""Output serializers: DTOs to JSON (amounts as strings with 2 decimals, ISO 8601 times)."""

from __future__ import annotations

from rest_framework import serializers

from orders.addresses import PaymentMethod
from readmodels.models import MONEY_SUM_DIGITS


def money(max_digits: int = 16, help_text: str | None = None) -> serializers.DecimalField:
    """An amount rendered as a string with exactly 2 decimals (`max_digits` in all: DRF
    refuses to render a wider value)."""
    return serializers.DecimalField(max_digits=max_digits, decimal_places=2, coerce_to_string=True, help_text=help_text)


class OrderSummaryOut(serializers.Serializer):  # type: ignore[type-arg]
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
    refund_due = money(
        help_text="What the shop still owes the customer back: the payment of a paid order that was cancelled, "
        "any payment captured after the cancellation and the value of returned goods, less refunds paid."
    )
    refunded = money(help_text="What the shop has paid back (POST /api/orders/{id}/refund/, payment.refunded.v1).")


class OrderPageOut(serializers.Serializer):  # type: ignore[type-arg]
    """A page of the order list."""

    count = serializers.IntegerField()
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
    customer_email = serializers.EmailField(
        allow_null=True, help_text="Null when the order has none, or once the customer was forgotten."
    )
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
    lifetime_value = serializers.DictField(child=money(MONEY_SUM_DIGITS))
    last_order_at = serializers.DateTimeField(allow_null=True)


class ProductStockOut(serializers.Serializer):  # type: ignore[type-arg]
    """ProductStock: available = on_hand - reserved."""

    sku = serializers.CharField()
    name = serializers.CharField()
    price = money()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()


class ProductPageOut(serializers.Serializer):  # type: ignore[type-arg]
    """A page of the product list."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ProductStockOut(many=True)
