"""Products keep no tables on the write side (their events live in eventlog); this model
only carries the Django permission that guards the product commands."""

from __future__ import annotations

from django.db import models


class ProductPermissions(models.Model):
    """Permission: register products, receive stock and rename them."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("manage_products", "Can register products, receive stock and rename products")]

    def __str__(self) -> str:
        return "product permissions"
