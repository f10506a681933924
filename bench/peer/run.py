"""The peer's benchmark: the standard workload on the `eventsourcing` library, phase by phase.

    bench/.peer-venv/bin/python bench/peer/run.py --orders 2000 --phase write --phase project --fresh --json

Phases (same names and figures as `manage.py bench`):
- write: the 4N commands sequentially from one client (commands/s, p50/p99 ms);
- write2: the same 4N commands from two client processes on disjoint orders (aggregate
  commands/s, p50/p99 over both), as ours' write2;
- project: catch-up of the OrderSummary projection over the whole log from position 0 (events/s);
- load: loading an aggregate of 10,000 events vs one of 10 (snapshots every 50, as ours).

PostgreSQL settings come from the library's own POSTGRES_* variables (defaults: 127.0.0.1:5432,
user postgres, database bench_peer, created if missing). Imports only bench/spec.py from this
repository, never Django.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from eventsourcing.projection import ProjectionRunner  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.peer.es_orders import (  # noqa: E402
    SNAPSHOT_EVERY,
    Orders,
    OrderSummaryProjection,
    PostgresOrderSummaryView,
    SnapshottingOrders,
)
from bench.spec import COMMANDS_PER_ORDER, OrderSpec, latency_figures, order_specs  # noqa: E402

PHASES = ["write", "write2", "project", "load"]
# As ours (bench/phases/write.py): client n takes orders from index CLIENT_STRIDE * (n + 1) on.
CLIENT_STRIDE = 10_000_000
ENV_DEFAULTS = {
    "PERSISTENCE_MODULE": "eventsourcing.postgres",
    "POSTGRES_DBNAME": "bench_peer",
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
}
# Every table the peer's application and projection own; dropped by --fresh.
TABLES = ("orders_events", "orders_snapshots", "ordersummary", "ordersummary_tracking")
ONE = Decimal("1.00")


def environment() -> dict[str, str]:
    """The library's settings: POSTGRES_* from the process environment over the bench defaults."""
    env = {key: os.environ.get(key, value) for key, value in ENV_DEFAULTS.items()}
    env.update({key: value for key, value in os.environ.items() if key.startswith("POSTGRES_")})
    return env


def connect(env: dict[str, str], dbname: str | None = None) -> psycopg.Connection[Any]:
    """A plain autocommit connection (for setup and the machine record, never for timed work)."""
    return psycopg.connect(
        dbname=dbname or env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        autocommit=True,
    )


def ensure_database(env: dict[str, str]) -> None:
    """Create the bench database if it is missing."""
    name = env["POSTGRES_DBNAME"]
    with connect(env, "postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {0}").format(sql.Identifier(name)))


def empty_database(env: dict[str, str]) -> None:
    """Drop the peer's tables (the library recreates them); bench databases only."""
    name = env["POSTGRES_DBNAME"]
    if "bench" not in name:
        raise SystemExit(f"refusing to empty {name!r}: benchmarks use a database named *bench*")
    with connect(env) as conn:
        for table in TABLES:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {0} CASCADE").format(sql.Identifier(table)))


def git_revision() -> str:
    """The checked-out revision, with '+dirty' when tracked files have changes (as bench/phases/common.py)."""
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    # Untracked files (a symlinked .venv in a worktree) do not change the code measured.
    status = ["git", "status", "--porcelain", "--untracked-files=no"]
    dirty = subprocess.run(status, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return (run.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def machine(env: dict[str, str]) -> dict[str, Any]:
    """Where the figures were measured, with the same keys as ours plus the library's versions."""
    with connect(env) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "postgresql": row[0] if row else "unknown",
        "database": env["POSTGRES_DBNAME"],
        "git_revision": git_revision(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "library": f"eventsourcing {metadata.version('eventsourcing')}",
        "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__})",
    }


def order_commands(app: Orders, spec: OrderSpec) -> list[Callable[[], object]]:
    """The four commands of one order, each its own load-decide-save."""
    lines = [{"sku": line.sku, "quantity": line.quantity, "unit_price": line.unit_price} for line in spec.lines]
    return [
        lambda: app.create_order(spec.order_id, spec.customer_id, spec.currency, lines),
        lambda: app.confirm_order(spec.order_id),
        lambda: app.pay_order(spec.order_id, spec.payment_id, spec.total),
        lambda: app.ship_order(spec.order_id, spec.tracking_number, spec.carrier),
    ]


def timed(operations: list[Callable[[], object]], unit: str) -> dict[str, Any]:
    """Run each operation, timing each one and the whole (as bench/workload.py)."""
    latencies: list[float] = []
    start = time.perf_counter()
    for operation in operations:
        began = time.perf_counter()
        operation()
        latencies.append((time.perf_counter() - began) * 1000)
    return latency_figures(latencies, time.perf_counter() - start, unit)


def write(env: dict[str, str], orders: int, seed: int) -> dict[str, Any]:
    """4N commands sequentially from one client: commands/s and p50/p99 latency."""
    app = Orders(env=env)
    try:
        operations = [op for spec in order_specs(orders, seed) for op in order_commands(app, spec)]
        figures = timed(operations, "commands")
    finally:
        app.close()
    return {**figures, "snapshot_every": 0}


def _client(env: dict[str, str], orders: int, seed: int, offset: int, start: Any, results: Any) -> None:
    """One write2 client in its own process: its own application (connection), its own orders.
    The tables exist already (write2 makes them first): clients creating them at once collide."""
    app = Orders(env={**env, "CREATE_TABLE": "no"})
    try:
        operations = [op for spec in order_specs(orders, seed, offset) for op in order_commands(app, spec)]
        latencies: list[float] = []
        start.wait()
        began = time.perf_counter()
        for operation in operations:
            sent = time.perf_counter()
            operation()
            latencies.append((time.perf_counter() - sent) * 1000)
        results.put((latencies, began, time.perf_counter()))
    finally:
        app.close()


def write2(env: dict[str, str], orders: int, seed: int, clients: int = 2) -> dict[str, Any]:
    """The 4N commands from `clients` spawned processes, each on its own orders, started together:
    aggregate commands/s over the wall time from the first start to the last finish."""
    Orders(env=env).close()  # the tables, once, before the clients start
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(
            target=_client, args=(env, orders // clients, seed + n, CLIENT_STRIDE * (n + 1), start, results)
        )
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    time.sleep(0.5)
    start.set()
    parts = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(30)
        if process.exitcode != 0:
            raise SystemExit(f"peer write2 client exited with {process.exitcode}")
    latencies = [value for part, _, _ in parts for value in part]
    wall = max(end for _, _, end in parts) - min(began for _, began, _ in parts)
    return {**latency_figures(latencies, wall, "commands"), "clients": clients, "snapshot_every": 0}


def _event_count(env: dict[str, str]) -> tuple[int, int]:
    with connect(env) as conn:
        row = conn.execute("SELECT count(*), coalesce(max(notification_id), 0) FROM orders_events").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def project(env: dict[str, str]) -> dict[str, Any]:
    """Catch the OrderSummary projection up over the whole log from position 0: events/s.

    The view and its tracking table are dropped first; the runner's subscription then reads the
    notification log in bulk (500 a select, the library's default) and the projection commits
    each event's row change with its tracking record. Completion is polled every 10 ms (the
    library's own wait() backs off up to 800 ms, which would inflate a short catch-up).
    """
    with connect(env) as conn:
        for table in ("ordersummary", "ordersummary_tracking"):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {0}").format(sql.Identifier(table)))
    events, head = _event_count(env)
    start = time.perf_counter()
    with ProjectionRunner(
        application_class=Orders,
        projection_class=OrderSummaryProjection,
        view_class=PostgresOrderSummaryView,
        env=env,
    ) as runner:
        view = runner.projection.view
        while head and not view.has_tracking_id(runner.app_name, head):
            if runner.is_interrupted.is_set():
                runner.run_forever(timeout=0)  # re-raises the projection's error
                raise RuntimeError("the projection runner stopped before catching up")
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        rows = view.count()
    return {
        "events_per_s": round(events / seconds, 1) if seconds else 0.0,
        "events": events,
        "seconds": round(seconds, 3),
        "rows": rows,
    }


def _stream(app: Orders, order_id: UUID, events: int) -> None:
    """A stream of exactly `events` events, as ours: created, item added/removed pairs, then added.

    A large stream is grown 500 events per save (snapshots are taken as it crosses each 50)."""
    written = 1
    while written < events - 1:
        order = app.get_order(order_id)
        for _ in range(min(500, events - 1 - written) // 2):
            order.add_item("GROW", 1, ONE)
            order.remove_item("GROW")
            written += 2
        app.save(order)
    app.add_item(order_id, "LAST", 1, ONE)


def load(env: dict[str, str], seed: int, *, small: int = 10, large: int = 10_000, repeats: int = 300) -> dict[str, Any]:
    """Time `repository.get` of a `small`- and a `large`-event order; both times and the ratio."""
    # Its own seed: order ids come from the seed alone, so `seed` would reuse the write phase's first two.
    specs = list(order_specs(2, seed + 3000, offset=80_000_000))
    app = SnapshottingOrders(env=env)
    result: dict[str, Any] = {"snapshot_every": SNAPSHOT_EVERY}
    try:
        for name, spec, size in (("small", specs[0], small), ("large", specs[1], large)):
            order_commands(app, spec)[0]()
            _stream(app, spec.order_id, size)
            result[f"{name}_events"] = app.get_order(spec.order_id).version
        for name, spec in (("small", specs[0]), ("large", specs[1])):
            for _ in range(20):
                app.repository.get(spec.order_id)
            result[name] = timed([lambda s=spec: app.repository.get(s.order_id)] * repeats, "loads")
    finally:
        app.close()
    result["ratio_p50"] = round(result["large"]["p50_ms"] / result["small"]["p50_ms"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="N orders (4N commands); default 2000")
    parser.add_argument("--phase", action="append", choices=PHASES, help="phase to run, repeatable (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="drop the peer's tables first")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    options = parser.parse_args(argv)

    env = environment()
    ensure_database(env)
    if options.fresh:
        empty_database(env)
    selected = options.phase or PHASES
    report: dict[str, Any] = {"machine": machine(env), "orders": options.orders, "phases": {}}
    started = time.perf_counter()
    for phase in selected:
        print(f"peer: {phase} ...", file=sys.stderr)
        began = time.perf_counter()
        if phase in ("write", "write2"):
            # write2's seed as ours' (manage.py bench: seed + 1000), so both run the same orders.
            figures = (
                write(env, options.orders, options.seed)
                if phase == "write"
                else write2(env, options.orders, options.seed + 1000)
            )
            expected = (options.orders if phase == "write" else options.orders // 2 * 2) * COMMANDS_PER_ORDER
            if figures["count"] != expected:
                raise SystemExit(f"peer {phase} ran {figures['count']} commands, expected {expected}")
        elif phase == "project":
            figures = project(env)
        else:
            figures = load(env, options.seed)
        report["phases"][phase] = figures
        print(f"peer: {phase} done in {time.perf_counter() - began:.1f}s", file=sys.stderr)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if options.json:
        print(json.dumps(report, default=str))
    else:
        for phase, figures in report["phases"].items():
            print(phase, json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
