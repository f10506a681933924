"""The back office's pages that show: orders (one page with all of an order), customers,
sales, stock and the dashboard. Every action on them posts to the write side's admin
(orders/admin), which sends the commands through the bus."""

from readmodels.admin import dashboard, orders, products  # noqa: F401  (registers the ModelAdmins)
