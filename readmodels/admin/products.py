"""Product stock in the admin: the ProductStock read model, read-only, and the "adjust
stock" form (after a count or a write-off) beside it. The form posts to the write side's
admin (inventory/admin), which sends the API's very command (AdjustStock) through the bus
with the API endpoint's permission and serializer; this module never sends."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from eventlog.admin import ReadOnlyAdmin
from inventory.admin.forms import AdjustStockForm
from inventory.api.permissions import ADJUST
from inventory.events import product_stream
from readmodels.models import ProductStock


def adjust_stock(model_admin: ProductStockAdmin, request: HttpRequest, sku: str) -> HttpResponse:
    """The form beside what the read model knows of the stock; it posts to the write side
    (inventory/admin), which sends the command. An old form's post is passed there (307)."""
    if not request.user.has_perm(ADJUST):
        raise PermissionDenied
    post_to = reverse("admin-product-adjust", args=[sku])
    if request.method == "POST":
        response = HttpResponseRedirect(post_to)
        response.status_code = 307  # keeps a POST a POST, with its body
        return response
    stock = get_object_or_404(ProductStock, sku=sku)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Adjust the stock of {sku}",
        "form": AdjustStockForm(),
        "stock": stock,
        "post_to": post_to,
        "opts": ProductStock._meta,
    }
    return TemplateResponse(request, "admin/readmodels/productstock/adjust_stock.html", context)


# A list_display entry: a field or method name, or a callable of the row.
Shown = str | Callable[[ProductStock], str | bool]


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

    def get_list_display(self, request: HttpRequest) -> list[Shown] | tuple[Shown, ...]:
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
