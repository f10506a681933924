"""The back office: read models (read-only), actions that go through commands, status pages."""

from readmodels.admin import orders, products, projections  # noqa: F401  (registers the ModelAdmins)
