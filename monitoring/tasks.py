"""The heartbeat task: beat schedules it, a worker runs it, so its row's age proves the whole
chain beat -> broker -> worker -> database alive."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from monitoring.models import Heartbeat

BEAT = "beat"


@shared_task(name="monitoring.heartbeat", acks_late=False, ignore_result=True)
def heartbeat() -> None:
    """Record that beat's schedule reached a worker now."""
    Heartbeat.objects.update_or_create(name=BEAT, defaults={"beat_at": timezone.now()})
