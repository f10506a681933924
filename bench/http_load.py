"""The standard workload over HTTP, against a running server (or one this starts with --start-stack).

    .venv/bin/python bench/http_load.py --url http://127.0.0.1:8000 --orders 200 --workers 8 [--json]
    make bench-http HTTP_ARGS="--orders 200"        # starts gunicorn + a Celery worker, runs, stops

Each of `--workers` threads (one requests.Session each) takes the next order of bench/spec.py
and runs its four commands (POST /api/orders/, then /confirm/, /pay/ with the total, /ship/),
then two reads: GET /api/orders/{id}/?min_position=<ship's position> (read-your-writes: the
server waits up to 2 s for the read models) and GET /api/orders/?status=<one of the four>.
Auth: a token from POST /api/auth/token/ (user admin/admin: `manage.py seed_demo --admin`).

Reports requests/s and p50/p99 ms per endpoint and overall, and the error count, which must be
0: any non-2xx answer or transport failure is an error, except a detail read that is answered
404 with X-Read-Model-Stale: true (the read models had not caught up in time), counted as stale.
Exits 1 when there were errors. No Django here.

--start-stack (what `make bench-http` uses) migrates the database in DATABASE_URL, makes the
admin user, starts gunicorn (--web-workers; --web-masters N starts N masters sharing the port
with SO_REUSEPORT) and one Celery worker (--celery-workers N: N worker processes) with the
bench's environment, polls until the server answers (with a deadline), runs the load, and
stops every process group (SIGTERM, then SIGKILL after a grace period). Their logs go to
bench/results/logs/. The API's throttles are lifted on that server (THROTTLE_COMMANDS/QUERIES)
so the figures measure the stack, not the rate limit, and the one user every client thread
signs in as gets a read-your-writes wait slot per thread (READ_YOUR_WRITES_WAITS_PER_USER;
with the default 2, threads beyond two would answer stale at once while two waited, as two
users' would not); a server you start yourself keeps its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.process_cpu import ProcessCpu, per_order_ms  # noqa: E402
from bench.spec import STATUSES, OrderSpec, order_specs, percentile  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
LOGS = ROOT / "bench" / "results" / "logs"
ENDPOINTS = (
    "POST /api/orders/",
    "POST /api/orders/{id}/confirm/",
    "POST /api/orders/{id}/pay/",
    "POST /api/orders/{id}/ship/",
    "GET /api/orders/{id}/",
    "GET /api/orders/?status=",
)


@dataclass
class Tally:
    """What every worker records, under one lock."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stale: int = 0
    samples: list[str] = field(default_factory=list)
    orders_done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, ms: float, error: str | None = None, stale: bool = False) -> None:
        with self.lock:
            self.latencies[endpoint].append(ms)
            if stale:
                self.stale += 1
            if error:
                self.errors[endpoint] += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{endpoint}: {error}")


class Client:
    """One worker's session against the API."""

    def __init__(self, base: str, token: str, tally: Tally, timeout: float, read_your_writes: bool = True) -> None:
        self.base = base.rstrip("/")
        # Off only to measure what the wait costs (bench/http_compare.py --without read_your_writes):
        # the detail is read without ?min_position=, and a 404 (not projected yet) counts as stale.
        self.read_your_writes = read_your_writes
        self.tally = tally
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})

    def call(self, endpoint: str, method: str, path: str, body: Any = None) -> dict[str, Any] | None:
        """One request, timed; its JSON body when it succeeded, else None (and an error counted)."""
        began = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, json=body, timeout=self.timeout)
        except requests.RequestException as error:
            self.tally.record(endpoint, (time.perf_counter() - began) * 1000, f"{type(error).__name__}: {error}")
            return None
        ms = (time.perf_counter() - began) * 1000
        stale = response.headers.get("X-Read-Model-Stale") == "true"
        if 200 <= response.status_code < 300:
            self.tally.record(endpoint, ms, stale=stale)
            return response.json() if response.content else {}
        unwaited = not self.read_your_writes and response.status_code == 404
        if response.status_code == 404 and (stale or unwaited) and endpoint == "GET /api/orders/{id}/":
            self.tally.record(endpoint, ms, stale=True)  # expected: not projected within the wait
            return None
        self.tally.record(endpoint, ms, f"{response.status_code} {response.text[:200]}")
        return None

    def order(self, spec: OrderSpec, rng: random.Random) -> None:
        """The four commands of one order, then its two reads."""
        lines = [{"sku": x.sku, "quantity": x.quantity, "unit_price": str(x.unit_price)} for x in spec.lines]
        created = self.call(
            ENDPOINTS[0],
            "POST",
            "/api/orders/",
            {"customer_id": spec.customer_id, "currency": spec.currency, "items": lines},
        )
        if created is None:
            return
        path = f"/api/orders/{created['order_id']}/"
        if self.call(ENDPOINTS[1], "POST", path + "confirm/") is None:
            return
        if self.call(ENDPOINTS[2], "POST", path + "pay/", {"payment_id": spec.payment_id, "amount": str(spec.total)}):
            shipped = self.call(
                ENDPOINTS[3], "POST", path + "ship/", {"tracking_number": spec.tracking_number, "carrier": spec.carrier}
            )
            if shipped is not None:
                wait = f"?min_position={shipped['position']}" if self.read_your_writes else ""
                self.call(ENDPOINTS[4], "GET", path + wait)
        self.call(ENDPOINTS[5], "GET", f"/api/orders/?status={rng.choice(STATUSES)}")


def port_of(base: str) -> int:
    """The port of a base URL such as http://127.0.0.1:8765."""
    return int(base.rsplit(":", 1)[-1].split("/")[0])


def token_for(base: str, username: str, password: str, timeout: float) -> str:
    response = requests.post(
        base.rstrip("/") + "/api/auth/token/", json={"username": username, "password": password}, timeout=timeout
    )
    response.raise_for_status()
    return str(response.json()["token"])


def run_load(
    base: str,
    orders: int,
    workers: int,
    seed: int,
    token: str,
    max_seconds: float,
    timeout: float,
    read_your_writes: bool = True,
) -> dict[str, Any]:
    """Run the workload with `workers` threads; figures per endpoint and overall (the detail
    read without its read-your-writes wait if `read_your_writes` is off: a benchmark's switch)."""
    tally = Tally()
    specs: Iterator[OrderSpec] = order_specs(orders, seed)
    take = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def worker(n: int) -> None:
        client = Client(base, token, tally, timeout, read_your_writes)
        rng = random.Random(seed * 1000 + n)
        while time.monotonic() < deadline:
            with take:
                spec = next(specs, None)
            if spec is None:
                return
            client.order(spec, rng)
            with tally.lock:
                tally.orders_done += 1

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    endpoints: dict[str, Any] = {}
    everything: list[float] = []
    for endpoint in ENDPOINTS:
        values = sorted(tally.latencies.get(endpoint, []))
        everything += values
        endpoints[endpoint] = _figures(values, wall) | {"errors": tally.errors.get(endpoint, 0)}
    errors = sum(tally.errors.values())
    return {
        "orders": tally.orders_done,
        "workers": workers,
        "seconds": round(wall, 2),
        "timed_out": tally.orders_done < orders,
        "overall": _figures(sorted(everything), wall) | {"errors": errors},
        "endpoints": endpoints,
        "errors": errors,
        "stale_reads": tally.stale,
        "error_samples": tally.samples,
    }


def _figures(ordered: list[float], wall: float) -> dict[str, Any]:
    return {
        "requests": len(ordered),
        "requests_per_s": round(len(ordered) / wall, 1) if wall else 0.0,
        "p50_ms": round(statistics.median(ordered), 2) if ordered else 0.0,
        "p99_ms": round(percentile(ordered, 0.99), 2),
    }


def database_sessions(url: str) -> int | None:
    """Sessions PostgreSQL has counted on the database of `url` since its statistics were reset."""
    if not url.startswith("postgres"):
        return None
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else None


def machine(base: str) -> dict[str, Any]:
    """Where the figures were measured (PostgreSQL's version only when we know the database)."""
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    # Untracked files (a symlinked .venv in a worktree) do not change the code measured.
    status = ["git", "status", "--porcelain", "--untracked-files=no"]
    dirty = subprocess.run(status, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    record: dict[str, Any] = {
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "git_revision": (revision.stdout.strip() or "unknown") + ("+dirty" if dirty else ""),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "url": base,
    }
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            record["postgresql"] = row[0] if row else "unknown"
            record["database"] = conn.info.dbname
    return record


class Stack:
    """Server processes on this machine (each in its own process group), prepared by `prepare`
    commands (migrations, the admin user) and stopped together."""

    def __init__(
        self, commands: dict[str, list[str]], prepare: list[list[str]], env: dict[str, str], database_url: str
    ) -> None:
        self.commands, self.preparations, self.env, self.database_url = commands, prepare, env, database_url
        self.processes: list[subprocess.Popen[bytes]] = []

    def run(self, base: str, ready_timeout: float, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Prepare, start, wait until ready, run `load`, stop; its report, with the database
        sessions the stack opened meanwhile (PostgreSQL's count, read once all have ended) and
        the CPU each kind of process spent during the load (bench/process_cpu.py)."""
        self.prepare()
        try:
            self.start()
            self.wait_ready(base, ready_timeout)
            before = database_sessions(self.database_url)
            sessions = {name: process.pid for name, process in zip(self.commands, self.processes, strict=True)}
            with ProcessCpu(sessions, self.database_url) as cpu:
                report = load()
            report["cpu_seconds"] = cpu.seconds()
            report["cpu_ms_per_order"] = per_order_ms(report["cpu_seconds"], report["orders"])
        finally:
            self.stop()
        after = database_sessions(self.database_url)
        # The connection that read `before` is one of them; the one reading `after` is not yet.
        report["database_sessions_opened"] = after - before - 1 if before is not None and after is not None else None
        return report

    def prepare(self) -> None:
        for command in self.preparations:
            subprocess.run(command, cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        for name, command in self.commands.items():
            log = (LOGS / f"http-{name}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    def wait_ready(self, base: str, deadline_s: float) -> None:
        """Poll until the API answers at all (401 without a token is fine), or fail at the deadline."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise SystemExit(f"the stack exited while starting; see {LOGS}/http-*.log")
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + "/api/orders/", timeout=2).status_code in (200, 401, 403):
                    return
            time.sleep(0.25)
        raise SystemExit(f"the server did not answer within {deadline_s:.0f}s; see {LOGS}/http-web.log")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM each process group, then SIGKILL what is left after `grace` seconds."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        end = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def product_stack(
    port: int,
    web_workers: int,
    worker_concurrency: int,
    clients: int,
    without: str = "",
    *,
    web_masters: int = 1,
    celery_workers: int = 1,
) -> Stack:
    """The product: gunicorn (config.wsgi) and one Celery worker on DATABASE_URL and
    CELERY_BROKER_URL, throttles lifted, and as many read-your-writes wait slots for the one
    user the `clients` threads share as there are threads (each would be a user of its own).
    `without` names guarantees to switch off (bench/guarantees.py): then every process of the
    stack runs bench.settings with BENCH_WITHOUT, a benchmark's settings, never the product's.

    Scaled out: `web_masters` gunicorn masters (each with `web_workers` workers) bound to the
    same port with SO_REUSEPORT, so the kernel spreads the clients' connections over them as a
    balancer would over hosts, and `celery_workers` separate worker processes (named apart)."""
    switched = {"DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH": "1", "BENCH_WITHOUT": without}
    environment = {
        **os.environ,
        **(switched if without else {"DJANGO_SETTINGS_MODULE": "config.settings"}),
        "DEBUG": "false",
        "THROTTLE_COMMANDS": os.environ.get("THROTTLE_COMMANDS", "1000000/min"),
        "THROTTLE_QUERIES": os.environ.get("THROTTLE_QUERIES", "1000000/min"),
        "READ_YOUR_WRITES_WAITS_PER_USER": os.environ.get("READ_YOUR_WRITES_WAITS_PER_USER", str(clients)),
    }
    python = str(VENV_BIN / "python")
    gunicorn = [str(VENV_BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers)]
    worker = [str(VENV_BIN / "celery"), "-A", "config", "worker", "--loglevel=WARNING"]
    if web_masters > 1:
        gunicorn.append("--reuse-port")
    webs = {f"web{n or ''}": gunicorn for n in range(web_masters)}
    workers = {
        f"worker{n or ''}": [*worker, f"--concurrency={worker_concurrency}", *(["-n", f"bench{n}@%h"] if n else [])]
        for n in range(celery_workers)
    }
    return Stack(
        {**webs, **workers},
        [
            [python, "manage.py", "migrate", "--noinput", "-v0"],
            [python, "manage.py", "seed_demo", "--admin", "--orders", "0"],
        ],
        environment,
        environment.get("DATABASE_URL", ""),
    )


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    head = Table(title="machine", show_header=False)
    for key, value in {**report["machine"], **report["settings"]}.items():
        head.add_row(key, str(value))
    console.print(head)
    load = report["load"]
    table = Table(title=f"HTTP load: {load['orders']} orders, {load['workers']} workers, {load['seconds']} s")
    for column in ("endpoint", "requests", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, figures in [*load["endpoints"].items(), ("overall", load["overall"])]:
        table.add_row(name, *(str(figures[k]) for k in ("requests", "requests_per_s", "p50_ms", "p99_ms", "errors")))
    console.print(table)
    console.print(f"errors: {load['errors']}   stale detail reads (404 + X-Read-Model-Stale): {load['stale_reads']}")
    console.print(f"database sessions the stack opened during the load: {load.get('database_sessions_opened')}")
    if load.get("cpu_ms_per_order"):
        per_kind = ", ".join(f"{kind} {ms}" for kind, ms in load["cpu_ms_per_order"].items())
        console.print(f"CPU ms an order: {per_kind}", soft_wrap=True)
    for sample in load["error_samples"]:
        console.print(f"  {sample}", markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    parser.add_argument("--orders", type=int, default=2000, help="N orders (4N commands + 2N reads); default 2000")
    parser.add_argument("--workers", type=int, default=8, help="concurrent client threads; default 8")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop taking new orders after this")
    parser.add_argument("--start-stack", action="store_true", help="start gunicorn + a worker here, stop them after")
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_WORKERS", "3")))
    parser.add_argument("--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
    parser.add_argument("--web-masters", type=int, default=1, help="--start-stack: gunicorn masters on the port")
    parser.add_argument("--celery-workers", type=int, default=1, help="--start-stack: Celery worker processes")
    parser.add_argument("--ready-timeout", type=float, default=60.0, help="--start-stack: seconds to wait for it")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    options = parser.parse_args(argv)
    base = options.url.rstrip("/")

    settings: dict[str, Any] = {"orders (N)": options.orders, "workers": options.workers}
    record: dict[str, Any] = {}

    def measure() -> dict[str, Any]:
        record.update(machine(base))  # before the load: its load average is the machine's, not ours
        token = token_for(base, options.username, options.password, options.timeout)
        print(f"http_load: {options.orders} orders, {options.workers} workers -> {base}", file=sys.stderr)
        return run_load(
            base, options.orders, options.workers, options.seed, token, options.max_seconds, options.timeout
        )

    if options.start_stack:
        stack = product_stack(
            port_of(base),
            options.web_workers,
            options.worker_concurrency,
            options.workers,
            web_masters=options.web_masters,
            celery_workers=options.celery_workers,
        )
        web = f"{options.web_masters} gunicorn x{options.web_workers}"
        settings |= {
            "stack": f"{web} + {options.celery_workers} celery worker x{options.worker_concurrency}",
            "throttles": f"commands {stack.env['THROTTLE_COMMANDS']}, queries {stack.env['THROTTLE_QUERIES']}",
            "read-your-writes waits per user": stack.env["READ_YOUR_WRITES_WAITS_PER_USER"],
        }
        load = stack.run(base, options.ready_timeout, measure)
    else:
        load = measure()
    report = {"machine": record, "orders": options.orders, "settings": settings, "load": load}
    saved = LOGS.parent / f"http-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    saved.write_text(json.dumps(report, default=str, indent=1))
    print(f"http_load: report saved to {saved}", file=sys.stderr)
    if options.json:
        print(json.dumps(report, default=str))
    else:
        print_report(report)
    return 1 if load["errors"] or load["timed_out"] else 0


if __name__ == "__main__":
    sys.exit(main())
