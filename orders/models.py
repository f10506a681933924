"""The write side keeps no tables of its own (events live in eventlog); this model only
carries the Django permissions that guard each group of commands."""

from __future__ import annotations

from django.db import models


class OrderPermissions(models.Model):
    """Permissions: place and edit orders; fulfil them (pay, ship, deliver); cancel them;
    erase a customer's personal data; record refunds paid; take goods back."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("place_order", "Can place and edit orders"),
            ("fulfil_order", "Can pay, ship and deliver orders"),
            ("cancel_order", "Can cancel orders"),
            ("forget_customer", "Can erase a customer's personal data"),
            ("refund_order", "Can record refunds paid"),
            ("return_order", "Can take back goods of delivered orders"),
        ]

    def __str__(self) -> str:
        return "order permissions"
