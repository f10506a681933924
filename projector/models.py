"""The engine's bookkeeping: how far each projection has applied the log, and the events it failed on.

Both live on the read database (config/routers.py), so they commit with the read-model
changes they account for.
"""

from __future__ import annotations

from django.db import models


class ProjectionCheckpoint(models.Model):
    """How far one partition of one projection has applied the log.

    Written in the same transaction as the read-model changes it accounts for; its row
    lock serializes the workers of that partition.
    """

    projection = models.CharField(max_length=64)
    partition = models.PositiveSmallIntegerField()
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "readmodels_projectioncheckpoint"  # where it lived first: moving it moved no table
        constraints = [
            models.UniqueConstraint(fields=["projection", "partition"], name="checkpoint_projection_partition_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.projection}[{self.partition}] @ {self.position}"


class DeadLetter(models.Model):
    """An event a projection failed on. Parked events block their stream in that projection
    (later events of the stream are held behind them) until retried or skipped."""

    class Status(models.TextChoices):
        RETRYING = "retrying", "Retrying"
        PARKED = "parked", "Parked"
        HELD = "held", "Held behind a parked event"
        RESOLVED = "resolved", "Resolved by retry"
        SKIPPED = "skipped", "Skipped"

    projection = models.CharField(max_length=64)
    position = models.BigIntegerField()
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    stream_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True)
    first_failed_at = models.DateTimeField(auto_now_add=True)
    last_failed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "readmodels_deadletter"  # where it lived first: moving it moved no table
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["projection", "position"], name="deadletter_projection_position_uniq")
        ]
        indexes = [models.Index(fields=["projection", "stream_id", "status"], name="deadletter_stream_idx")]

    def __str__(self) -> str:
        return f"{self.projection} #{self.position} {self.event_type} ({self.status})"
