"""The event log in the admin: browse and filter, never change."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from eventlog.models import CORRELATION, ArchivedStream, CommandRecord, Snapshot, StoredEvent


def pretty_json(value: Any) -> str:
    """JSON indented inside <pre>, escaped."""
    return format_html("<pre style='margin:0'>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Facts and derived records are shown, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class CorrelationFilter(admin.SimpleListFilter):
    """Filter by `?correlation=<id>`: one business story across streams."""

    title = "correlation id"
    parameter_name = "correlation"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[StoredEvent]) -> QuerySet[StoredEvent]:
        if self.value():
            return queryset.alias(correlation=CORRELATION).filter(correlation=self.value())
        return queryset


@admin.register(StoredEvent)
class StoredEventAdmin(ReadOnlyAdmin):
    list_display = ("position", "event_type", "stream_link", "version", "recorded_at", "user", "story_link")
    list_filter = ("event_type", "stream_type", CorrelationFilter)
    search_fields = ("=stream_id", "=event_id")
    date_hierarchy = "recorded_at"
    ordering = ("position",)
    list_per_page = 100
    fields = (
        "position",
        "event_id",
        "stream_type",
        "stream_id",
        "version",
        "event_type",
        "schema_version",
        "recorded_at",
        "pretty_data",
        "pretty_metadata",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StoredEvent]:
        # `?stream_id=` shows one stream's events in order on one page.
        queryset = super().get_queryset(request)
        stream = request.GET.get("stream_id")
        return queryset.filter(stream_id=stream).order_by("version") if stream else queryset

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "stream_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="stream", ordering="stream_id")
    def stream_link(self, event: StoredEvent) -> str:
        return format_html("<a href='?stream_id={}'>{}</a>", event.stream_id, event.stream_id)

    @admin.display(description="story")
    def story_link(self, event: StoredEvent) -> str:
        # Every event of any stream sharing this correlation id: one order's story.
        correlation = event.metadata.get("correlation_id")
        if not correlation:
            return ""
        return format_html("<a href='?correlation={}'>{}</a>", correlation, str(correlation)[:8])

    @admin.display(description="user")
    def user(self, event: StoredEvent) -> str:
        return str(event.metadata.get("user") or "")

    @admin.display(description="data")
    def pretty_data(self, event: StoredEvent) -> str:
        return pretty_json(event.data)

    @admin.display(description="metadata")
    def pretty_metadata(self, event: StoredEvent) -> str:
        correlation = event.metadata.get("correlation_id")
        link = format_html("<a href='../../?correlation={}'>all events of this story</a>", correlation)
        return format_html("{}{}", pretty_json(event.metadata), link if correlation else "")


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ("stream_id", "stream_type", "version", "created_at")
    search_fields = ("=stream_id",)


@admin.register(CommandRecord)
class CommandRecordAdmin(ReadOnlyAdmin):
    list_display = ("command_type", "command_id", "recorded_at")
    list_filter = ("command_type",)
    search_fields = ("=command_id",)


@admin.register(ArchivedStream)
class ArchivedStreamAdmin(ReadOnlyAdmin):
    """The archive's manifest: which streams live in cold storage, in which segment."""

    list_display = ("stream_id", "stream_type", "status", "event_count", "last_position", "archived_at")
    list_filter = ("status", "stream_type")
    search_fields = ("=stream_id",)
