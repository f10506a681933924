"""Wiring, the top: settings from the environment, URLs, the Celery app, the admin site.
Owns the configuration and the dotted paths that plug projections, checks and middleware in.
May import every package below it; only bench's tools import it."""

from config.celery import app as celery_app

__all__ = ("celery_app",)
