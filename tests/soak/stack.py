"""The stack under test: services of its own behind proxies the soak cuts, and `make up`.

Nothing here stops the machine's services. The soak gets a database, a Redis database and a
RabbitMQ virtual host of its own (made at start, removed at the end), and the stack reaches each
through a `TcpProxy` (tests/support/faults.py): cutting a proxy is the outage. The soak itself, and the
partner that publishes inbound messages, talk to the services directly, as they would from
another host. The stack is started exactly as a user starts it, with `make up`, so what
restarts a process that died is what users run, not something the soak adds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from tests.support.faults import TcpProxy, closed_port

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("web", "worker", "beat", "consumer")
POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
RABBITMQ = ("127.0.0.1", 5672)
# A Redis database of its own: the machine's tests use 0, the benchmarks 3 and 7.
REDIS_DB = int(os.environ.get("SOAK_REDIS_DB", "13"))


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, stdout=subprocess.DEVNULL, timeout=60)


@dataclass
class Services:
    """This soak's database, Redis database and RabbitMQ vhost, and a proxy in front of each."""

    name: str = field(default_factory=lambda: f"soak_{uuid.uuid4().hex[:8]}")
    proxies: dict[str, TcpProxy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.proxies = {
            "postgres": TcpProxy(*POSTGRES),
            "redis": TcpProxy(*REDIS),
            "rabbitmq": TcpProxy(*RABBITMQ),
        }

    @property
    def database_url(self) -> str:
        """Direct, for the soak's own checks."""
        return f"postgres://postgres@{POSTGRES[0]}:{POSTGRES[1]}/{self.name}"

    @property
    def amqp_url(self) -> str:
        """Direct, for the partner that publishes inbound messages."""
        return f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/{self.name}"

    def stack_env(self) -> dict[str, str]:
        """What the stack is given: every service through its proxy."""
        return {
            "DATABASE_URL": self.proxies["postgres"].url("postgres", f"/{self.name}").replace("://", "://postgres@"),
            "CELERY_BROKER_URL": self.proxies["redis"].url("redis", f"/{REDIS_DB}"),
            "INTEGRATION_BROKER_URL": self.proxies["rabbitmq"]
            .url("amqp", f"/{self.name}")
            .replace("://", "://guest:guest@"),
        }

    def __enter__(self) -> Services:
        with psycopg.connect(f"postgres://postgres@{POSTGRES[0]}:{POSTGRES[1]}/postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{self.name}"')
        redis.Redis(*REDIS, db=REDIS_DB).flushdb()
        _rabbitmqctl("add_vhost", self.name)
        _rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        for proxy in self.proxies.values():
            proxy.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        for proxy in self.proxies.values():
            with contextlib.suppress(OSError):
                proxy.cut()
        with contextlib.suppress(Exception):
            _rabbitmqctl("delete_vhost", self.name)
        with contextlib.suppress(Exception):
            redis.Redis(*REDIS, db=REDIS_DB).flushdb()
        with (
            contextlib.suppress(Exception),
            psycopg.connect(f"postgres://postgres@{POSTGRES[0]}:{POSTGRES[1]}/postgres", autocommit=True) as db,
        ):
            db.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _children() -> dict[int, list[int]]:
    """Every live process's children, from /proc. A zombie (killed, not yet reaped) is left
    out with what still hangs under it: its children are dying too, and one of them must not
    be taken for the role's next process."""
    tree: dict[int, list[int]] = {}
    zombies = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] in ("Z", "X"):
                zombies.add(int(entry.name))
            else:
                tree.setdefault(int(fields[1]), []).append(int(entry.name))
    for zombie in zombies:
        tree.pop(zombie, None)
    return tree


def _descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _role(command: str) -> str | None:
    if "keep-running" in command:  # the supervisor of a role, not the role: never killed by the soak
        return None
    if "gunicorn" in command and "config.wsgi" in command:
        return "web"
    if "celery" in command and " worker" in command:
        return "worker"
    if "celery" in command and " beat" in command:
        return "beat"
    if "consume_inbound" in command:
        return "consumer"
    return None


def rss_kib(pids: list[int]) -> int:
    """Resident memory of these processes together (KiB)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class Stack:
    """`make up` on the soak's services, and its processes by role."""

    def __init__(self, services: Services, workdir: Path, extra_env: dict[str, str]) -> None:
        self.port = closed_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "stack.log"
        self.env = {
            **os.environ,
            **services.stack_env(),
            "PORT": str(self.port),
            "TMPDIR": str(workdir),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
            "HTTPS": "false",
            "DEBUG": "false",
            "LOG_FORMAT": "console",
            "WEB_WORKERS": "2",
            **extra_env,
        }
        self.env.pop("READ_DATABASE_URL", None)
        self.env.setdefault("SECRET_KEY", uuid.uuid4().hex * 2)
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A management command on the stack's settings (through the proxies unless `env` says)."""
        return subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )

    def start(self, ready_timeout: float = 120) -> None:
        """`make up`, then wait until every role runs and the API answers."""
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "up"],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import requests

        deadline = time.monotonic() + ready_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"make up exited ({self.process.returncode}); see {self.log}")
            answered = False
            with contextlib.suppress(requests.RequestException):
                answered = requests.get(f"{self.base}/health/live", timeout=2).status_code == 200
            if answered and set(self.mains()) == set(ROLES):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack was not up within {ready_timeout:.0f}s; see {self.log}")
            time.sleep(0.25)

    def mains(self) -> dict[str, int]:
        """The top process of each role that runs now (a role's children are not listed)."""
        if self.process is None:
            return {}
        tree = _children()
        found: dict[str, int] = {}
        members = _descendants(self.process.pid, tree)
        for pid in members:
            role = _role(_cmdline(pid))
            if role is None or role in found:
                continue
            # The first found in walking order is the top one: parents come before children.
            found[role] = pid
        return found

    def members(self, role: str) -> list[int]:
        """The role's top process and everything under it."""
        main = self.mains().get(role)
        return [] if main is None else [main, *_descendants(main, _children())]

    def kill(self, role: str) -> int | None:
        """SIGKILL the role's process and its children at once, like a crash; its pid, if any."""
        pids = self.members(role)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids[0] if pids else None

    def stop(self, grace: float = 30) -> None:
        """SIGTERM the whole session (make, the supervisor, every process), SIGKILL what stays."""
        if self.process is None:
            return
        # A supervisor may start its children in sessions of their own: they are reached by pid.
        everyone = _descendants(self.process.pid, _children())
        for pid in everyone:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace)
        for pid in [*everyone, *_descendants(self.process.pid, _children())]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


@contextlib.contextmanager
def running(services: Services, workdir: Path, extra_env: dict[str, str]) -> Iterator[Stack]:
    """A started stack, stopped whatever happens."""
    stack = Stack(services, workdir, extra_env)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
