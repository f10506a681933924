"""Product stock in the admin: the ProductStock read model, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from eventlog.admin import ReadOnlyAdmin
from inventory.domain import product_stream
from readmodels.models import ProductStock


@admin.register(ProductStock)
class ProductStockAdmin(ReadOnlyAdmin):
    list_display = ("sku", "name", "price", "on_hand", "reserved", "available", "updated_at", "events")
    search_fields = ("=sku", "name")
    ordering = ("sku",)

    @admin.display(description="events")
    def events(self, stock: ProductStock) -> str:
        """A link to the product's stream in the event log."""
        url = reverse("admin:eventlog_storedevent_changelist") + f"?stream_id={product_stream(stock.sku)}"
        return format_html('<a href="{}">stream</a>', url)
