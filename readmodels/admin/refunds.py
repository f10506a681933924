"""Who the shop owes money: the "refund owed" filter and column of the admin's order list,
read from OrderSummary.refund_due (what is owed now, less refunds paid)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from readmodels.amounts import format_money
from readmodels.models import OrderSummary


class RefundOwedFilter(admin.SimpleListFilter):
    """Orders that still owe the customer money back, or those that owe nothing."""

    title = "refund owed"
    parameter_name = "refund_owed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[OrderSummary]) -> list[tuple[str, str]]:
        return [("yes", "Owes a refund"), ("no", "Owes nothing")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OrderSummary]) -> QuerySet[OrderSummary]:
        match self.value():
            case "yes":
                return queryset.filter(refund_due__gt=0)
            case "no":
                return queryset.filter(refund_due=0)
        return queryset


@admin.display(description="refund owed", ordering="refund_due")
def refund_owed(order: OrderSummary) -> str:
    """What the order owes back, with its currency; blank when nothing."""
    return format_money(order.refund_due, order.currency) if order.refund_due else ""
