"""The fulfilment process's durable state: one row per order whose lines track stock.

It lives on the event store's database (not the read database): it is written in the same
transaction as the commands it sends, so a product event can never be seen before the row
that expects it.
"""

from __future__ import annotations

from django.db import models


class FulfilmentProcess(models.Model):
    """Where reserving stock for one confirmed order stands, line by line."""

    order_id = models.UUIDField(primary_key=True)
    correlation_id = models.UUIDField()
    status = models.CharField(max_length=16)
    # {sku: quantity} and {sku: LineStatus} of the tracked lines.
    quantities = models.JSONField(default=dict)
    lines = models.JSONField(default=dict)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "fulfilment processes"

    def __str__(self) -> str:
        return f"fulfilment of {self.order_id}: {self.status}"


class PaymentDeadline(models.Model):
    """When a confirmed order must be paid by, and whether it still must (fulfilment/payment_deadline.py).

    Unlike FulfilmentProcess it sends nothing when written: it is the `payment_deadlines`
    projection's table, routed to the read database (config/routers.py) so it commits with
    the checkpoint that accounts for it. Beat reads the open, due rows and sends the commands.
    """

    order_id = models.UUIDField(primary_key=True)
    correlation_id = models.UUIDField()
    opened_by = models.UUIDField(help_text="the OrderConfirmed event")
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16)
    version = models.PositiveIntegerField(help_text="the last order event followed")

    class Meta:
        indexes = [models.Index(fields=["status", "due_at"], name="payment_deadline_due_idx")]

    def __str__(self) -> str:
        return f"payment deadline of {self.order_id}: {self.status} (due {self.due_at:%Y-%m-%d %H:%M:%S})"
