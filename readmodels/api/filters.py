"""Parameters of the order list: django-filter validates every value, so bad input is a 400."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from rest_framework import exceptions

from orders.domain import OrderStatus
from readmodels.models import OrderSummary
from readmodels.selectors.orders import DEFAULT_ORDERING

ORDERING_FIELDS = ("created_at", "updated_at", "total_amount", "order_number", "item_count", "status")


def utc(value: datetime, name: str) -> datetime:
    """The instant in UTC: PostgreSQL refuses offsets beyond +/-15:59, which ISO 8601 allows."""
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise exceptions.ValidationError({name: ["Date-time out of range."]}) from None


class OrderSummaryFilter(django_filters.FilterSet):  # type: ignore[misc]
    """?status=&customer_id=&created_after=&created_before=&ordering="""

    status = django_filters.ChoiceFilter(choices=[(s.value, s.value) for s in OrderStatus])
    customer_id = django_filters.CharFilter(max_length=64)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")
    ordering = django_filters.OrderingFilter(fields=ORDERING_FIELDS)

    class Meta:
        model = OrderSummary
        fields: list[str] = []

    def selection(self) -> dict[str, Any]:
        """The parameters as keyword arguments of `order_summary_list`; ValidationError (400) if invalid."""
        if not self.is_valid():
            raise exceptions.ValidationError(self.errors)
        data = self.form.cleaned_data
        instants = {
            name: utc(data[name], name) if data.get(name) else None for name in ("created_after", "created_before")
        }
        return {
            "status": data.get("status") or None,
            "customer_id": data.get("customer_id") or None,
            **instants,
            "ordering": tuple(data.get("ordering") or DEFAULT_ORDERING),
        }
