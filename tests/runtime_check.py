"""The runtime requirements alone run the product: web app, worker, a command and its projection.

Run by `make check-runtime` with the python of a virtualenv built from requirements.txt only
(no dev tools), so a package that only the test or lint tools pull in cannot hide a missing
runtime dependency (kombu's Redis transport once needed `packaging`, which only the dev
requirements brought). It works on a database of its own, created afresh, and a queue of
its own, and stops what it started. Exit status 0 when everything answered.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATABASE = "runtime_check"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_database(base_url: str) -> str:
    """Create DATABASE afresh on the server of `base_url`; its URL. (Through the server's
    maintenance database: the one `base_url` names need not exist yet.)"""
    server = base_url.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    return server + "/" + DATABASE


def call(url: str, body: dict[str, Any] | None = None, token: str = "", key: str = "") -> tuple[int, Any]:
    """One HTTP request; its status and JSON body."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if key:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def eventually(what: str, check: Callable[[], bool], started: list[subprocess.Popen[bytes]], log: Path) -> None:
    """Poll `check` (60 s at most); fail at once, with the log, if a started process died."""
    deadline = time.monotonic() + 60
    while not check():
        died = [str(process.args) for process in started if process.poll() is not None]
        if died or time.monotonic() > deadline:
            reason = f"{died[0]} exited" if died else "timed out"
            raise SystemExit(f"{log.read_text(errors='replace')[-3000:]}\nruntime check: {reason} waiting for {what}")
        time.sleep(0.2)


def main() -> None:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=fresh_database(env["DATABASE_URL"]),
        CELERY_TASK_DEFAULT_QUEUE=f"runtime-check-{uuid.uuid4().hex[:8]}",
        PROJECTIONS_INLINE="false",
        ENV_FILE="",
    )
    env.pop("DEBUG", None)  # the production settings, as deployed

    def manage(*args: str) -> None:
        subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)

    manage("check", "--fail-level", "WARNING")
    manage("migrate", "--noinput", "-v0")
    manage("shell", "-c", "from django.contrib.auth.models import User; User.objects.create_superuser('ops', '', 'pw')")
    port = free_port()
    log = ROOT / "artifacts" / "runtime-check.log"
    log.parent.mkdir(exist_ok=True)
    output = log.open("wb")
    base = f"http://127.0.0.1:{port}"
    started = [
        subprocess.Popen(
            [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "-Q",
                env["CELERY_TASK_DEFAULT_QUEUE"],
                "--concurrency=1",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    try:

        def web_answers() -> bool:
            try:
                return call(f"{base}/api/orders/")[0] == 401
            except OSError:
                return False

        eventually("the web app", web_answers, started, log)
        status, body = call(f"{base}/api/auth/token/", {"username": "ops", "password": "pw"})
        assert status == 200, (status, body)
        token = body["token"]
        order = {
            "customer_id": "c-1",
            "currency": "EUR",
            "items": [{"sku": "S-1", "quantity": 1, "unit_price": "2.50"}],
        }
        status, created = call(f"{base}/api/orders/", order, token=token, key="runtime-check")
        assert status == 201, (status, created)
        detail = f"{base}/api/orders/{created['order_id']}/"
        # Only the worker projects (PROJECTIONS_INLINE=false): the detail appears once it ran.
        eventually("the worker's projection", lambda: call(detail, token=token)[0] == 200, started, log)
        print("runtime check: web app and worker run from requirements.txt alone")
    finally:
        for process in started:
            os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
