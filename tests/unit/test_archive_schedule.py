"""The archiver is an operator's choice: beat schedules it only when ARCHIVE_INTERVAL_SECONDS
is set, on a queue of its own (the worker that consumes it runs as the archiver's role)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import django, json; django.setup(); from django.conf import settings;"
    "print(json.dumps(settings.CELERY_BEAT_SCHEDULE.get('archive-streams')))"
)


def schedule(**env: str) -> object:
    """The archive entry of beat's schedule with the settings users run, given `env`."""
    environment = {name: value for name, value in os.environ.items() if name != "ARCHIVE_INTERVAL_SECONDS"}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    done = subprocess.run(
        [sys.executable, "-c", PRINT], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_beat_does_not_archive_unless_asked() -> None:
    assert schedule() is None


def test_beat_archives_on_its_own_queue_when_asked() -> None:
    entry = schedule(ARCHIVE_INTERVAL_SECONDS="86400")
    assert entry == {
        "task": "archive.archive_streams",
        "schedule": 86400.0,
        "options": {"queue": "archive", "expires": 86400.0},
    }
