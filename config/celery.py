"""The Celery app; configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery, signals

from monitoring.logs import configure_celery_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Worker and beat log through Django's LOGGING (JSON lines, monitoring/logs.py), not Celery's format.
signals.setup_logging.connect(configure_celery_logging, weak=False)
