"""The Celery app config/celery.py configures is Celery's current app in every thread (Celery's
Django fixup makes it the default), so code below the wiring (the readiness probe's broker
check) reaches the configured broker through `celery.current_app`, in a web process's request
threads too, never Celery's unconfigured default."""

from __future__ import annotations

import threading

from celery import current_app

from config.celery import app


def test_every_thread_sees_the_configured_app_as_current() -> None:
    seen: list[object] = []
    # The proxy hands out the current app's own attributes: its configuration is the app's.
    thread = threading.Thread(target=lambda: seen.append(current_app.conf))
    thread.start()
    thread.join(10)
    assert len(seen) == 1
    assert seen[0] is app.conf
    assert current_app.conf is app.conf
    assert current_app.main == "backoffice"
