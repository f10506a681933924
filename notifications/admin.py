"""Read-only admin pages: who gets emails, and every email owed with its outcome."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import CustomerDirectory, Notification


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Derived from the event log: nothing here is edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CustomerDirectory)
class CustomerDirectoryAdmin(ReadOnlyAdmin):
    list_display = ["customer_id", "email"]
    search_fields = ["customer_id", "email"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "order_id", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["order_id", "recipient", "event_id"]
    date_hierarchy = "occurred_at"
