"""The customer directory and the outbox of emails owed to customers.

Both live on the read database, next to the projection checkpoints: an email is owed in
the same transaction that moves the checkpoint past its event, so an event delivered
twice finds its email already owed and owes nothing more.
"""

from __future__ import annotations

from django.db import models

# A finished email (sent, or given up) whose recipient, subject or error is still stored.
PAYLOAD_KEPT = models.Q(status__in=["sent", "failed"]) & (
    ~models.Q(recipient="") | ~models.Q(subject="") | ~models.Q(last_error="")
)


class CustomerDirectory(models.Model):
    """Each customer's latest known address, from the orders they placed with one."""

    customer_id = models.CharField(max_length=64, primary_key=True)
    email = models.EmailField(max_length=254)
    # Position of the event the address came from: the newest one wins, whichever
    # partition projects it first.
    position = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "customer directory"
        ordering = ["customer_id"]

    def __str__(self) -> str:
        return f"{self.customer_id} <{self.email}>"


class Notification(models.Model):
    """One email owed for one event: the event id is the key, so it is owed exactly once."""

    class Kind(models.TextChoices):
        ORDER_CONFIRMED = "order_confirmed"
        ORDER_SHIPPED = "order_shipped"
        ORDER_CANCELLED = "order_cancelled"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # gave up after NOTIFICATION_MAX_ATTEMPTS
        NO_ADDRESS = "no_address"  # nobody to write to
        EXPIRED = "expired"  # the event was too old when projected (a rebuild, not news)

    event_id = models.UUIDField(primary_key=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    order_id = models.UUIDField()
    # Whose order it is (empty only if no event says): the forgetting finds the emails that
    # may name the customer by it, never through another projection's tables.
    customer_id = models.CharField(max_length=64, blank=True, default="")
    order_version = models.PositiveIntegerField()
    position = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    recipient = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx"),
            models.Index(fields=["order_id"], name="notification_order_idx"),
            models.Index(fields=["customer_id"], name="notification_customer_idx"),
            # The finished emails that still carry personal data: what retention blanks
            # (retention/stores.py) is read from here, never from the whole outbox.
            models.Index(fields=["occurred_at"], name="notification_payload_idx", condition=PAYLOAD_KEPT),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for order {self.order_id} ({self.status})"
