"""Celery tasks: thin entry points into notifications.sending."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications.sending import SEND_NOTIFICATIONS, send_pending, sending_key
from projector import doorbell


@shared_task(
    name=SEND_NOTIFICATIONS,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=10,
)
def send_notifications() -> int:
    """Send the emails that are owed and due (after a projection batch, and from beat)."""
    doorbell.answering(sending_key())  # before reading: emails owed from now on ring anew
    return send_pending()
