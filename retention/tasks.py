"""Celery tasks: thin entry points into retention.policies."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from retention.policies import prune


@shared_task(
    name="retention.prune",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def prune_by_policy() -> dict[str, int]:
    """Periodic (beat, every RETENTION_INTERVAL_SECONDS): apply every retention policy."""
    return prune()
