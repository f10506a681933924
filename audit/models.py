"""One row per command tried, written whatever its outcome, never changed afterwards.

Kept apart from the event log on purpose: the log holds facts that happened (and a refused
command leaves none), the audit trail holds what was asked, by whom, and the answer. On
PostgreSQL the table refuses UPDATE, DELETE and TRUNCATE like the log (audit/0001).
"""

from __future__ import annotations

from typing import Any

from django.db import models


class CommandAudit(models.Model):
    class Outcome(models.TextChoices):
        COMMITTED = "committed"
        DUPLICATE = "duplicate"
        REFUSED = "refused"
        CONFLICT = "conflict"
        FAILED = "failed"

    recorded_at = models.DateTimeField(db_index=True)
    # As long as the command log's (eventlog.CommandRecord): an API command's is
    # "<user pk>:<Idempotency-Key of up to 255 characters>".
    command_id = models.CharField(max_length=320, db_index=True)
    command_type = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, db_index=True)
    reason = models.TextField(blank=True)
    # A username (Django's are at most 150 characters), or an inbound message's sender,
    # "integration:<its CloudEvents source of up to 255 characters>" (integration/inbound.py).
    user = models.CharField(max_length=267, blank=True, db_index=True)
    source = models.CharField(max_length=32, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    stream_id = models.CharField(max_length=255, blank=True)
    position = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    duration_ms = models.FloatField()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = "command audit record"

    def __str__(self) -> str:
        return f"{self.command_type} {self.outcome} ({self.command_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert only: the database refuses updates too (PostgreSQL), this says so earlier."""
        if self.pk is not None:
            raise ValueError("Audit records are append-only")
        super().save(*args, **kwargs)
