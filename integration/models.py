"""The permissions of the inbound dead-letter page, on a model with no table.

Dead-lettered inbound messages live in RabbitMQ (`backoffice.inbound.dead`), not in the
database (integration/dead_letters.py says why), so this unmanaged model exists only to carry
the two permissions the admin grants like any other: `view_inbounddeadletter` to list them,
`change_inbounddeadletter` to replay one. They are kept apart from the projections' dead-letter
permissions on purpose: retrying a projection re-applies events already committed, while
replaying an inbound message issues a command (a payment, a shipment) on a partner's behalf.
"""

from __future__ import annotations

from django.db import models


class InboundDeadLetter(models.Model):
    """A message in `backoffice.inbound.dead` (no table: the queue is the record)."""

    class Meta:
        managed = False
        default_permissions = ("view", "change")
        verbose_name = "dead-lettered inbound message"
        verbose_name_plural = "dead-lettered inbound messages"

    def __str__(self) -> str:
        return f"dead-lettered inbound message {self.pk}"
