"""The retention settings as a deployment gives them: defaults a shop can live with, refusals
of a policy that would break another guarantee, and beat's schedule naming a real task.
Each case imports the settings in a fresh interpreter with only that environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.conf import settings as s; from config.celery import app;"
    " app.loader.import_default_modules();"
    " entry = s.CELERY_BEAT_SCHEDULE['prune-by-retention-policy'];"
    " print(json.dumps({name: getattr(s, name) for name in ('IDEMPOTENCY_RETENTION_DAYS', 'AUDIT_RETENTION_DAYS',"
    " 'DEAD_LETTER_RETENTION_DAYS', 'NOTIFICATION_PAYLOAD_RETENTION_DAYS', 'RETENTION_BATCH_SIZE')}"
    " | {'every': entry['schedule'], 'registered': entry['task'] in app.tasks}))"
)


def start(**environment: str) -> subprocess.CompletedProcess[str]:
    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        cwd=ROOT,
        env={**keep, "DJANGO_SETTINGS_MODULE": "config.settings", "ENV_FILE": "", "DEBUG": "true", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_defaults_keep_the_audit_trail_and_prune_the_rest_hourly() -> None:
    started = start()
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout) == {
        "IDEMPOTENCY_RETENTION_DAYS": 30,
        "AUDIT_RETENTION_DAYS": 0,
        "DEAD_LETTER_RETENTION_DAYS": 30,
        "NOTIFICATION_PAYLOAD_RETENTION_DAYS": 30,
        "RETENTION_BATCH_SIZE": 1000,
        "every": 3600.0,
        "registered": True,
    }


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({"AUDIT_RETENTION_DAYS": "7"}, "AUDIT_RETENTION_DAYS must be 0 (keep) or at least IDEMPOTENCY_RETENTION_DAYS"),
        (
            {"AUDIT_RETENTION_DAYS": "365", "IDEMPOTENCY_RETENTION_DAYS": "0"},
            "AUDIT_RETENTION_DAYS must be 0 (keep) or at least IDEMPOTENCY_RETENTION_DAYS",
        ),
        ({"DEAD_LETTER_RETENTION_DAYS": "-1"}, "Retention days must be 0 (keep) or more"),
        ({"RETENTION_BATCH_SIZE": "0"}, "RETENTION_BATCH_SIZE at least 1"),
    ],
)
def test_a_policy_that_would_break_a_guarantee_stops_the_start(environment: dict[str, str], reason: str) -> None:
    started = start(**environment)
    assert started.returncode != 0
    assert reason in started.stderr
