"""The Celery app; configuration comes from Django settings (CELERY_*).

A worker keeps its database connections across tasks, as a web process keeps them across
requests: each task starts and ends the way Django starts and ends a request
(`close_old_connections`), so a connection is closed only when it is unusable (an error left
it broken, or its health check fails at the task's first query) or older than CONN_MAX_AGE,
and every one is closed after a task that failed (or will be retried).
Celery's own Django fixup would instead close every connection before and after every task:
at a hundred doorbells a second that was a new PostgreSQL backend (a fork, authentication,
Django's connection set-up) per task, about 500 per 90-second HTTP run
(tests/integration/test_worker_connections.py counts them).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals
from django.db import close_old_connections, connections

from config.startup import settle
from telemetry.logs import configure_celery_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Worker and beat log through Django's LOGGING (JSON lines, telemetry/logs.py), not Celery's format.
signals.setup_logging.connect(configure_celery_logging, weak=False)


def connections_as_for_a_request(**_: Any) -> None:
    """Before each task: drop only connections that are broken or past CONN_MAX_AGE."""
    close_old_connections()


def connections_after_a_task(state: str | None = None, **_: Any) -> None:
    """After each task: as after a request, except that a task that did not succeed drops
    every connection. Django flags a connection broken only when the error passed through its
    own cursor; the event store's statements run on psycopg cursors of their own over it
    (eventlog/postgres.py), so a connection lost under them would otherwise be kept and fail
    every retry until CONN_MAX_AGE."""
    if state == "SUCCESS":
        close_old_connections()
    else:
        connections.close_all()


signals.task_prerun.connect(connections_as_for_a_request, weak=False)
signals.task_postrun.connect(connections_after_a_task, weak=False)
# Each pool process, once forked with the app loaded (config/startup.py).
signals.worker_process_init.connect(lambda **_: settle(), weak=False)
