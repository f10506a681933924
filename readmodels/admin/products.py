"""Product stock in the admin: the ProductStock read model, read-only, and one command page,
"adjust stock" after a count or a write-off. It sends the API's very command (AdjustStock)
through the bus, with the API endpoint's permission (inventory.adjust_stock) and serializer,
so the admin accepts exactly what the API accepts; a refusal is a message with its reason
and nothing is appended."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from eventlog.admin import ReadOnlyAdmin
from inventory.api.permissions import ADJUST
from inventory.api.serializers import AdjustStockIn
from inventory.commands import AdjustStock
from inventory.domain import product_stream
from inventory.events import MAX_ADJUSTMENT_REASON
from readmodels.admin.phone_orders import send
from readmodels.models import ProductStock


class AdjustStockForm(forms.Form):
    """Units counted in (positive) or out (negative), and why; the API's rules check them."""

    quantity_delta = forms.CharField(label="quantity change", help_text="e.g. -3 for three damaged units")
    reason = forms.CharField(max_length=MAX_ADJUSTMENT_REASON, help_text="a count, damaged, lost...")


def adjust_stock(model_admin: ProductStockAdmin, request: HttpRequest, sku: str) -> HttpResponse:
    """GET: the form; POST: AdjustStock through the bus, then back to the list."""
    if not request.user.has_perm(ADJUST):
        raise PermissionDenied
    stock = get_object_or_404(ProductStock, sku=sku)
    form = AdjustStockForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        body = {key: request.POST.get(key, "") for key in AdjustStockForm.base_fields}
        if send(request, AdjustStockIn, body, lambda valid, meta: AdjustStock(sku=sku, metadata=meta, **valid)):
            messages.success(request, f"{sku}: stock adjusted. The list shows it once the projection has run.")
            return HttpResponseRedirect(reverse("admin:readmodels_productstock_changelist"))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Adjust the stock of {sku}",
        "form": form,
        "stock": stock,
        "opts": ProductStock._meta,
    }
    return TemplateResponse(request, "admin/readmodels/productstock/adjust_stock.html", context)


@admin.register(ProductStock)
class ProductStockAdmin(ReadOnlyAdmin):
    list_display = ("sku", "name", "price", "on_hand", "reserved", "available", "updated_at", "events", "adjust")
    search_fields = ("=sku", "name")
    ordering = ("sku",)

    def get_urls(self) -> list[URLPattern]:
        # Ahead of the default "<object_id>/..." patterns, which would take this path.
        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(lambda request, **kwargs: function(self, request, **kwargs))

        return [
            path("<str:sku>/adjust/", view(adjust_stock), name="readmodels_productstock_adjust"),
            *super().get_urls(),
        ]

    def get_list_display(self, request: HttpRequest) -> Any:
        """The adjust link only for those who may adjust."""
        shown = super().get_list_display(request)
        return shown if request.user.has_perm(ADJUST) else [name for name in shown if name != "adjust"]

    @admin.display(description="events")
    def events(self, stock: ProductStock) -> str:
        """A link to the product's stream in the event log."""
        url = reverse("admin:eventlog_storedevent_changelist") + f"?stream_id={product_stream(stock.sku)}"
        return format_html('<a href="{}">stream</a>', url)

    @admin.display(description="adjust")
    def adjust(self, stock: ProductStock) -> str:
        """A link to the adjust-stock page (counts and write-offs)."""
        url = reverse("admin:readmodels_productstock_adjust", args=[stock.sku])
        return format_html('<a href="{}">adjust</a>', url)
