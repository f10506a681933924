"""Parameters of the order list: django-filter validates every value, so bad input is a 400."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from rest_framework import exceptions

from orders.state import OrderStatus
from readmodels.models import MONEY_PLACES, OrderSummary, ProductStock
from readmodels.search import MAX_SEARCH_LENGTH, MAX_SEARCH_WORDS, search_words
from readmodels.selectors.orders import DEFAULT_ORDERING

ORDERING_FIELDS = ("created_at", "updated_at", "total_amount", "order_number", "item_count", "status")


def utc(value: datetime, name: str) -> datetime:
    """The instant in UTC: PostgreSQL refuses offsets beyond +/-15:59, which ISO 8601 allows."""
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise exceptions.ValidationError({name: ["Date-time out of range."]}) from None


def searched(data: dict[str, Any]) -> str | None:
    """The ?q= text (None if blank); 400 past MAX_SEARCH_WORDS words."""
    if len(search_words(data.get("q") or "")) > MAX_SEARCH_WORDS:
        raise exceptions.ValidationError({"q": [f"At most {MAX_SEARCH_WORDS} words."]})
    return data.get("q") or None


def amount_filter(lookup: str) -> django_filters.NumberFilter:
    """An order total bound: a decimal string with at most 3 decimals (the most any currency's
    amounts served have)."""
    return django_filters.NumberFilter(
        field_name="total_amount",
        lookup_expr=lookup,
        max_digits=14 + MONEY_PLACES,
        decimal_places=MONEY_PLACES,
        min_value=0,
    )


class OrderSummaryFilter(django_filters.FilterSet):
    """?status=&customer_id=&created_after=&created_before=&q=&total_min=&total_max=&refund_due=&ordering="""

    status = django_filters.ChoiceFilter(choices=[(s.value, s.value) for s in OrderStatus])
    customer_id = django_filters.CharFilter(max_length=64)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")
    q = django_filters.CharFilter(max_length=MAX_SEARCH_LENGTH)
    total_min = amount_filter("gte")
    total_max = amount_filter("lte")
    refund_due = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")])
    ordering = django_filters.OrderingFilter(fields=ORDERING_FIELDS)

    class Meta:
        model = OrderSummary
        fields: list[str] = []

    def selection(self) -> dict[str, Any]:
        """The parameters as keyword arguments of `order_summary_list`; ValidationError (400) if invalid."""
        if not self.is_valid():
            raise exceptions.ValidationError(self.errors)
        data = self.form.cleaned_data
        total_min, total_max = data.get("total_min"), data.get("total_max")
        if total_min is not None and total_max is not None and total_min > total_max:
            raise exceptions.ValidationError({"total_min": ["Must not be greater than total_max."]})
        instants = {
            name: utc(data[name], name) if data.get(name) else None for name in ("created_after", "created_before")
        }
        return {
            "status": data.get("status") or None,
            "customer_id": data.get("customer_id") or None,
            **instants,
            "text": searched(data),
            "total_min": total_min,
            "total_max": total_max,
            "refund_due": {"true": True, "false": False}.get(data.get("refund_due") or ""),
            "ordering": tuple(data.get("ordering") or DEFAULT_ORDERING),
        }


class ProductStockFilter(django_filters.FilterSet):
    """?q=&low_stock=true|false"""

    q = django_filters.CharFilter(max_length=MAX_SEARCH_LENGTH)
    low_stock = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")])

    class Meta:
        model = ProductStock
        fields: list[str] = []

    def selection(self) -> dict[str, Any]:
        """The parameters as keyword arguments of `product_stock_list`; ValidationError (400) if invalid."""
        if not self.is_valid():
            raise exceptions.ValidationError(self.errors)
        data = self.form.cleaned_data
        return {"text": searched(data), "low_stock": data.get("low_stock") == "true"}
