"""Sending the emails the notifications projection owes: each exactly once per event.

A sender claims owed rows with SELECT ... FOR UPDATE SKIP LOCKED, sends, and marks them
sent in the same transaction, so two senders (a worker and beat, or a redelivered task)
never send the same row. The one window left is a crash after the mail server accepted a
message and before the commit; the retry then sends it again with the same Message-ID
(derived from the event id), which mail systems use to drop the duplicate.

The same row lock keeps a forgotten customer's address out of the outbox: a sender that
composed an email while the customer's key still existed records its recipient while it
holds the row, and the forgetting's scrub (notifications/projection.py), an UPDATE of those
rows, waits for that commit and then blanks it (on SQLite every transaction runs alone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from eventlog.store import event_store
from notifications.models import CustomerDirectory, Notification
from orders.domain import Order
from orders.state import OrderState
from projector import doorbell
from projector.loop import read_database
from readmodels.order_numbers import order_number

logger = logging.getLogger(__name__)

# The task notifications.tasks defines under this name; sent by name, so this module never
# imports the task module (it imports this one).
SEND_NOTIFICATIONS = "notifications.send"


@dataclass(frozen=True, kw_only=True)
class Email:
    """A rendered email for one notification."""

    to: str
    subject: str
    body: str
    message_id: str


def order_at(order_id: UUID, version: int) -> tuple[OrderState, str]:
    """The order's state right after `version`, and its order number."""
    events = event_store().read_stream(str(order_id), to_version=version)
    order = Order.replay(str(order_id), [recorded.event for recorded in events])
    return order.state, order_number(events[0].position)


def compose(notification: Notification, using: str) -> Email | None:
    """The email owed for `notification`, or None if the customer has no known address."""
    state, number = order_at(notification.order_id, notification.order_version)
    recipient = state.customer_email
    if not recipient:
        known = CustomerDirectory.objects.using(using).filter(customer_id=state.customer_id).first()
        recipient = known.email if known else ""
    if not recipient:
        return None
    context = {"order": state, "order_number": number, "total": state.total}
    template = f"notifications/{notification.kind}"
    return Email(
        to=recipient,
        subject=" ".join(render_to_string(f"{template}_subject.txt", context).split()),
        body=render_to_string(f"{template}.txt", context),
        message_id=f"<{notification.event_id}@{settings.NOTIFICATION_MESSAGE_ID_DOMAIN}>",
    )


def _deliver(notification: Notification, using: str) -> None:
    notification.attempts += 1
    try:
        email = compose(notification, using)
        if email is None:
            notification.status = Notification.Status.NO_ADDRESS
            return
        EmailMessage(email.subject, email.body, to=[email.to], headers={"Message-ID": email.message_id}).send(
            fail_silently=False
        )
    except Exception as error:
        logger.warning(
            "Email for event %s failed (attempt %d): %s", notification.event_id, notification.attempts, error
        )
        notification.last_error = f"{type(error).__name__}: {error}"
        if notification.attempts >= int(settings.NOTIFICATION_MAX_ATTEMPTS):
            notification.status = Notification.Status.FAILED
        else:
            delay = float(settings.NOTIFICATION_RETRY_BASE_SECONDS) * 2 ** (notification.attempts - 1)
            notification.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        return
    notification.status, notification.recipient, notification.subject = (
        Notification.Status.SENT,
        email.to,
        email.subject,
    )
    notification.sent_at = timezone.now()


def send_pending(batch_size: int = 50) -> int:
    """Send every owed email that is due, oldest first; returns how many were sent."""
    using = read_database()
    sent = 0
    while True:
        with transaction.atomic(using=using):
            batch = list(
                Notification.objects.using(using)
                .select_for_update(skip_locked=True)
                .filter(status=Notification.Status.PENDING, next_attempt_at__lte=timezone.now())
                .order_by("position")[:batch_size]
            )
            for notification in batch:
                _deliver(notification, using)
                notification.save(using=using)
        sent += sum(notification.status == Notification.Status.SENT for notification in batch)
        if len(batch) < batch_size:
            return sent


def send_soon() -> None:
    """After a projection committed owed emails: send them in-process (embedded default)
    or hand them to a worker, unless a send task is already waiting (a coalescing doorbell,
    as for partitions: the task clears the mark before it reads). A broker failure is only
    logged; beat sends them later."""
    if settings.PROJECTIONS_INLINE:
        send_pending()
        return
    key = sending_key()
    if not doorbell.should_ring(key):
        return
    try:
        current_app.send_task(SEND_NOTIFICATIONS, retry=False)
    except Exception as error:
        doorbell.ring_failed(key)
        logger.warning("Could not enqueue sending notifications (%s); the periodic send will", error)


def sending_key() -> str:
    """The doorbell key of the send task on the queue tasks go to (see projector.doorbell)."""
    return f"{current_app.conf.task_default_queue}:notifications:send"
