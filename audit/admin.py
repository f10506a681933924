"""The audit trail in the admin: browsable and filterable, never editable."""

from __future__ import annotations

from django.contrib import admin

from audit.models import CommandAudit
from eventlog.admin import ReadOnlyAdmin


@admin.register(CommandAudit)
class CommandAuditAdmin(ReadOnlyAdmin):
    list_display = ("recorded_at", "command_type", "outcome", "user", "source", "stream_id", "reason", "duration_ms")
    list_filter = ("outcome", "command_type", "source", "recorded_at")
    search_fields = ("=command_id", "=correlation_id", "=stream_id", "=user")
    date_hierarchy = "recorded_at"
    readonly_fields = [field.name for field in CommandAudit._meta.fields]
