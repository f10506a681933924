"""Production defaults fail closed: each case imports the settings in a fresh interpreter with
only the environment a deployment would give it (no .env file, no test overrides)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
A_REAL_KEY = "k" * 20 + "0123456789abcdefghijABCDEFGHIJ"
SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, name) for name in "
    "('DEBUG', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
    "'ALLOWED_HOSTS')} | {'validators': len(s.AUTH_PASSWORD_VALIDATORS), 'bench': 'bench' in s.INSTALLED_APPS}))"
)


def start(**environment: str) -> subprocess.CompletedProcess[str]:
    """Import config.settings as a process started with `environment` would."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        cwd=ROOT,
        env={**keep, "DJANGO_SETTINGS_MODULE": "config.settings", "ENV_FILE": "", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "SECRET_KEY is not set"),
        ("dev-only-insecure-key-change-me", "published placeholder"),
        ("django-insecure-" + "x1y2z3" * 10, "published placeholder"),
        ("short-but-not-public", "shorter than 50 characters"),
    ],
)
def test_without_debug_a_missing_or_weak_secret_refuses_to_start_with_one_line(key: str, reason: str) -> None:
    started = start(SECRET_KEY=key) if key else start()
    assert started.returncode == 1
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert reason in lines[0]
    assert "Set SECRET_KEY" in lines[0]


def test_the_defaults_are_production_ones() -> None:
    started = start(SECRET_KEY=A_REAL_KEY)
    assert started.returncode == 0, started.stderr
    shown = json.loads(started.stdout)
    assert shown["DEBUG"] is False
    assert shown["SECURE_SSL_REDIRECT"] is True
    assert shown["SESSION_COOKIE_SECURE"] is True
    assert shown["CSRF_COOKIE_SECURE"] is True
    assert shown["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert "testserver" not in shown["ALLOWED_HOSTS"]
    assert shown["validators"] == 4


def test_the_benchmarks_app_is_installed_only_for_the_benchmarks() -> None:
    production, benchmarks = start(SECRET_KEY=A_REAL_KEY), start(SECRET_KEY=A_REAL_KEY, BENCH="1")
    assert production.returncode == benchmarks.returncode == 0, production.stderr + benchmarks.stderr
    assert json.loads(production.stdout)["bench"] is False
    assert json.loads(benchmarks.stdout)["bench"] is True


def test_development_is_an_explicit_choice() -> None:
    started = start(DEBUG="true")
    assert started.returncode == 0, started.stderr
    shown = json.loads(started.stdout)
    assert shown["DEBUG"] is True
    assert shown["SECURE_SSL_REDIRECT"] is False


def test_the_production_example_passes_the_deployment_checks() -> None:
    checked = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "ENV_FILE": ".env.production.example", "SECRET_KEY": A_REAL_KEY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout
