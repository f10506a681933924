"""The permissions the product commands require (carried by inventory.models.ProductPermissions),
named once for the API and the admin alike."""

from __future__ import annotations

# Register products, receive stock, rename them.
MANAGE = "inventory.manage_products"
# Adjust stock on hand after a count or a write-off: it can hide a loss, so it is its own.
ADJUST = "inventory.adjust_stock"
