"""The app's processes for tests on the real services: Celery workers and beat as subprocesses
on this session's test databases and queue, killable like a crashed host, and that queue's state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from kombu import Queue

from config.celery import app as celery_app
from notifications.sending import sending_key
from projector import doorbell, running
from projector.loop import all_partitions
from tests.support.faults import closed_port

ROOT = Path(__file__).resolve().parents[2]
QUEUE = f"test-{uuid.uuid4().hex[:8]}"


def _url(alias: str) -> str:
    params = connections[alias].settings_dict
    host, port = params.get("HOST") or "127.0.0.1", params.get("PORT") or 5432
    return f"postgres://{params.get('USER') or 'postgres'}@{host}:{port}/{params['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess that works on this session's test databases and queue."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_url("default"),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_DEFAULT_QUEUE=QUEUE,
        PROJECTIONS_INLINE="false",
        CONN_MAX_AGE="0",
    )
    env.update(extra)
    if "read" in settings.DATABASES:
        env["READ_DATABASE_URL"] = _url("read")
    return env


class Service:
    """A Celery worker or beat process, killable like a crashed host."""

    def __init__(self, args: list[str], log: Path, ready: str, env: dict[str, str]) -> None:
        self.args, self.log, self.ready, self.env = args, log, ready, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 40) -> None:
        """Start and wait (bounded) until the process says it is ready."""
        handle = self.log.open("ab")
        offset = self.log.stat().st_size
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while self.ready not in self.log.read_text(errors="replace")[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.args[3]} did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no acks, like a power cut."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Ask the process group to stop, killing it if it does not."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def celery(kind: str, tmp: Path, **env: str) -> Service:
    """A `celery worker` or `celery beat` process for this session's queue (or the
    CELERY_TASK_DEFAULT_QUEUE given in `env`)."""
    binary = str(Path(sys.executable).with_name("celery"))
    if kind == "worker":
        queue = env.get("CELERY_TASK_DEFAULT_QUEUE", QUEUE)
        args = [binary, "-A", "config", "worker", "-Q", queue, "--concurrency=2", "--without-gossip"]
        args += ["--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
        ready = "ready."
    else:
        args = [binary, "-A", "config", "beat", f"--schedule={tmp / 'beat-schedule'}", "--loglevel=INFO"]
        ready = "beat: Starting"
    return Service(args, tmp / f"{kind}.log", ready, service_env(**env))


def empty_queue() -> None:
    """Drop the messages waiting in this session's queue, if it exists yet, and the doorbell
    marks that said a ring was waiting there (kept, they would stop the next commits ringing)."""
    clear_doorbell_marks()
    with celery_app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        try:
            channel.queue_declare(QUEUE, passive=True)
        except Exception:  # not declared yet (the broker's own not-found error): nothing waits
            return
        channel.queue_purge(QUEUE)


def clear_doorbell_marks() -> None:
    """Clear the pending-ring marks of this session's queue (the partitions' and the email
    sender's), as a worker answering them does."""
    for key in [*(running.partition_key(partition) for partition in all_partitions()), sending_key()]:
        doorbell.answering(key)


def waiting_tasks() -> int:
    """Messages waiting in this session's queue on the broker."""
    with celery_app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # kombu's stub types it as the bare protocol
        return int(channel.queue_declare(QUEUE, passive=True).message_count)


def taken_messages() -> list[tuple[str, list[Any], dict[str, Any]]]:
    """Take every message waiting in this session's queue off the broker, as each task's name,
    positional and keyword arguments (Celery's message protocol 2: the task's name in the
    headers, the body `[args, kwargs, embed]`), as an older worker would receive them."""
    taken: list[tuple[str, list[Any], dict[str, Any]]] = []
    with celery_app.connection_for_write() as connection:
        # kombu's Queue.get gives the same Message on every transport (Redis's channel hands
        # one back itself, RabbitMQ's the driver's own, which it wraps).
        queue = Queue(QUEUE, channel=connection.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            args, kwargs, _ = message.decode()
            taken.append((message.headers["task"], args, kwargs))
    return taken


def redis_address() -> tuple[str, int, str]:
    """Host, port and database of the Redis the suite uses."""
    url = urlsplit(
        settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "redis://127.0.0.1:6379/0"
    )
    return url.hostname or "127.0.0.1", url.port or 6379, url.path or "/0"


def web(tmp: Path, **env: str) -> Service:
    """gunicorn serving the app with `env`, answering once it boots."""
    port = closed_port()
    binary = str(Path(sys.executable).with_name("gunicorn"))
    args = [binary, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "60"]
    service = Service(args, tmp / "web.log", "Booting worker", service_env(**env))
    service.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return service
