"""SENTRY_DSN turns error reporting on (Django and Celery integrations) and an error reaches the
DSN's server; without it, sentry-sdk is never initialised. Each case is a fresh process that
loads the real settings, as web, worker and beat do."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django, sentry_sdk
django.setup()
from django.conf import settings
client = sentry_sdk.get_client()
print(json.dumps({"enabled": settings.SENTRY_ENABLED, "active": client.is_active(),
                  "integrations": sorted(getattr(client, "integrations", {}))}))
try:
    raise RuntimeError("sentry probe")
except RuntimeError:
    sentry_sdk.capture_exception()
sentry_sdk.flush(5)
"""


@pytest.fixture
def collector() -> Iterator[tuple[int, list[bytes]]]:
    """An HTTP server standing in for Sentry's ingestion endpoint; records every body."""
    bodies: list[bytes] = []

    class Receive(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            bodies.append(gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], bodies
    server.shutdown()


def probe(**env: str) -> dict[str, object]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    if "SENTRY_DSN" not in env:
        environment.pop("SENTRY_DSN", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_dsn_enables_sentry_with_django_and_celery_and_errors_reach_it(
    collector: tuple[int, list[bytes]],
) -> None:
    port, bodies = collector
    state = probe(SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/1")
    assert state["enabled"] is True
    assert state["active"] is True
    assert {"django", "celery"} <= set(state["integrations"])  # type: ignore[call-overload]
    assert any(b"sentry probe" in body for body in bodies)


def test_without_a_dsn_nothing_is_initialised() -> None:
    assert probe() == {"enabled": False, "active": False, "integrations": []}
