"""Celery tasks: thin entry points into fulfilment.deadlines."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from fulfilment.deadlines import expire_due


@shared_task(
    name="fulfilment.expire_payment_deadlines",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=5,
)
def expire_payment_deadlines() -> int:
    """Periodic (beat): cancel the confirmed orders whose payment deadline passed unpaid."""
    return expire_due()
