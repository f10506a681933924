"""Who may send which order command: one Django permission per command group (superusers have all)."""

from __future__ import annotations

# Permissions carried by orders.models.OrderPermissions.
PLACE = "orders.place_order"  # create, add and remove items, confirm
FULFIL = "orders.fulfil_order"  # pay, ship, deliver
CANCEL = "orders.cancel_order"
FORGET = "orders.forget_customer"  # erase a customer's personal data
REFUND = "orders.refund_order"  # record a refund paid
RETURN = "orders.return_order"  # take back goods of a delivered order
