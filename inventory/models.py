"""Products keep no tables on the write side (their events live in eventlog); this model
only carries the Django permissions that guard the product commands."""

from __future__ import annotations

from django.db import models


class ProductPermissions(models.Model):
    """Permissions: register products, receive stock and rename them; adjust stock on hand
    (counts and write-offs), which can hide losses and so is granted on its own."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("manage_products", "Can register products, receive stock and rename products"),
            ("adjust_stock", "Can adjust stock on hand after a count or a write-off"),
        ]

    def __str__(self) -> str:
        return "product permissions"
