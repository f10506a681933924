"""The beat heartbeat: one row per scheduler, overwritten at every beat, on the event store's database."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """When a periodic producer (Celery beat, through a worker) last proved it was alive."""

    name = models.CharField(max_length=64, primary_key=True)
    beat_at = models.DateTimeField()

    class Meta:
        verbose_name = "heartbeat"

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
