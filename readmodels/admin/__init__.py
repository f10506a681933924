"""The back office: read models (read-only), actions that go through commands, the dashboard."""

from readmodels.admin import dashboard, orders, products  # noqa: F401  (registers the ModelAdmins)
