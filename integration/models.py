"""The relay's carried state per stream, and the permissions of the inbound dead-letter page.

CarriedState is committed with the relay's checkpoint (config/routers.py puts it beside it), so
a stream's stored fold never runs ahead of, nor behind, what the relay has published
(integration/carried_state.py).

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


class CarriedState(models.Model):
    """A stream's fold as the relay last left it: the state its next public event builds on."""

    stream_id = models.CharField(max_length=64, primary_key=True)
    version = models.IntegerField()
    # Which StreamFold and domain-state shapes `state` has: any other is ignored.
    shape = models.CharField(max_length=64)
    state = models.JSONField()

    def __str__(self) -> str:
        return f"{self.stream_id} @v{self.version}"
