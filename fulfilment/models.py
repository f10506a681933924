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
