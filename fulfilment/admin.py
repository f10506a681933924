"""Fulfilment processes in the admin: where each order's stock reservation stands, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from eventlog.admin import ReadOnlyAdmin
from fulfilment.models import FulfilmentProcess


@admin.register(FulfilmentProcess)
class FulfilmentProcessAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "status", "lines", "updated_at", "story")
    list_filter = ("status",)
    search_fields = ("=order_id",)
    ordering = ("-updated_at",)

    @admin.display(description="events")
    def story(self, process: FulfilmentProcess) -> str:
        """The order's whole story across streams: every event with its correlation id."""
        url = reverse("admin:eventlog_storedevent_changelist") + f"?correlation={process.correlation_id}"
        return format_html('<a href="{}">correlated events</a>', url)
