"""The product against a plain DRF CRUD service (bench/crud/) on the same HTTP workload.

    .venv/bin/python bench/http_compare.py --orders 1000 --workers 8 --rounds 3 [--json]
    make bench-crud CRUD_ARGS="--orders 1000 --rounds 3"

Each round runs both sides one after the other, alternating which goes first (the machine's
load drifts), each on a freshly recreated database of its own: the product as `make
bench-http` runs it (gunicorn x3 and a Celery worker x2, DATABASE_URL and CELERY_BROKER_URL),
the CRUD service with gunicorn x3 on CRUD_DATABASE_URL. The workload is bench/http_load.py's:
per order create, confirm, pay, ship, the detail with ?min_position= and a list page. Prints
each side's requests/s, p50/p99 ms, errors and stale reads, the medians over the rounds and
the ratio product/CRUD; saves the JSON to bench/results/. Exits 1 on any error.

With `--without audit,record,telemetry,read_your_writes` (make bench-cost-http) it also runs the
product with each of those guarantees switched off in turn (bench/guarantees.py; the last is the
load's detail read without ?min_position=), the sides' order shifting by one each round, and
prints each over the product with all on: what each guarantee costs over HTTP. That report goes
to http-guarantees-*.json (a side without a guarantee is no figure for a target). The doorbell
cannot be switched off here: without it the worker projects only on its catch-up beat, and the
reads would wait for that instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.guarantee_cost import rotation  # noqa: E402
from bench.guarantees import SWITCHES  # noqa: E402
from bench.http_load import (  # noqa: E402
    LOGS,
    VENV_BIN,
    Stack,
    machine,
    port_of,
    product_stack,
    run_load,
    token_for,
)

FIGURES = ("requests_per_s", "p50_ms", "p99_ms")


def crud_stack(port: int, web_workers: int, database_url: str) -> Stack:
    """The CRUD service: its migrations, an admin/admin user, gunicorn (bench.crud.wsgi)."""
    manage = [str(VENV_BIN / "python"), "bench/crud/manage.py"]
    env = {
        **os.environ,
        "CRUD_DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.crud.settings",
        "DJANGO_SUPERUSER_PASSWORD": "admin",
    }
    gunicorn = [str(VENV_BIN / "gunicorn"), "bench.crud.wsgi", "--bind", f"127.0.0.1:{port}"]
    return Stack(
        {"crud-web": [*gunicorn, "--workers", str(web_workers)]},
        [
            [*manage, "migrate", "--noinput", "-v0"],
            [*manage, "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"],
        ],
        env,
        database_url,
    )


def recreate_database(url: str) -> None:
    """Drop and create the database `url` names (a benchmark's own: refuses a name without 'bench')."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    if "bench" not in str(name):
        raise SystemExit(f"refusing to recreate {name!r}: not a benchmark database")
    with psycopg.connect(url, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name))))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))


# What --without accepts: the server's switches but the doorbell (see above), and the client's.
HTTP_SWITCHES = [*(name for name in SWITCHES if name != "doorbell"), "read_your_writes"]
PRODUCT = "product"


def run_side(stack: Stack, base: str, options: argparse.Namespace, read_your_writes: bool = True) -> dict[str, Any]:
    """Drive the workload against `stack` (started here, stopped after); the load's report."""

    def load() -> dict[str, Any]:
        token = token_for(base, "admin", "admin", options.timeout)
        return run_load(
            base,
            options.orders,
            options.workers,
            options.seed,
            token,
            options.max_seconds,
            options.timeout,
            read_your_writes,
        )

    return stack.run(base, options.ready_timeout, load)


def summary(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of the overall figures, errors and stale reads summed."""
    return {
        **{figure: round(statistics.median(load["overall"][figure] for load in loads), 2) for figure in FIGURES},
        "errors": sum(load["errors"] for load in loads),
        "stale_reads": sum(load["stale_reads"] for load in loads),
        "database_sessions_opened": statistics.median(load["database_sessions_opened"] or 0 for load in loads),
        "cpu_ms_per_order": {
            kind: round(statistics.median(load["cpu_ms_per_order"].get(kind, 0.0) for load in loads), 1)
            for kind in dict.fromkeys(kind for load in loads for kind in load.get("cpu_ms_per_order", {}))
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8, help="client threads; default 8")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765, help="the product's port; the CRUD service's is +1")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument(
        "--without", default="", help=f"also the product without each of these, comma-separated: {HTTP_SWITCHES}"
    )
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    switches = [name.strip() for name in options.without.split(",") if name.strip()]
    if unknown := set(switches) - set(HTTP_SWITCHES):
        parser.error(f"--without: unknown {sorted(unknown)}; known: {HTTP_SWITCHES}")
    product_db = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_http")
    crud_db = os.environ.get("CRUD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_crud")
    product_base, crud_base = f"http://127.0.0.1:{options.port}", f"http://127.0.0.1:{options.port + 1}"

    def product(switch: str = "") -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            recreate_database(product_db)
            server = "" if switch == "read_your_writes" else switch
            stack = product_stack(
                port_of(product_base), options.web_workers, options.worker_concurrency, options.workers, server
            )
            return run_side(stack, product_base, options, read_your_writes=switch != "read_your_writes")

        return run

    def crud() -> dict[str, Any]:
        recreate_database(crud_db)
        return run_side(crud_stack(port_of(crud_base), options.web_workers, crud_db), crud_base, options)

    sides: dict[str, Callable[[], dict[str, Any]]] = {
        PRODUCT: product(),
        "crud": crud,
        **{f"{PRODUCT} without {switch}": product(switch) for switch in switches},
    }
    record = machine(product_base)
    loads: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for round_number in range(options.rounds):
        for name in rotation(list(sides), round_number):
            print(f"http_compare: round {round_number + 1}, {name}", file=sys.stderr)
            loads[name].append(sides[name]())
    medians = {name: summary(runs) for name, runs in loads.items()}
    ratio = medians[PRODUCT]["requests_per_s"] / medians["crud"]["requests_per_s"]
    report = {
        "machine": record,
        "settings": vars(options) | {"product_stack": "gunicorn + celery worker", "crud_stack": "gunicorn"},
        "medians": medians,
        "ratio_requests_per_s": round(ratio, 2),
        "rounds": loads,
    }
    if switches:
        report["over_product"] = {
            name: round(figures["requests_per_s"] / medians[PRODUCT]["requests_per_s"], 3)
            for name, figures in medians.items()
        }
    kind = "http-guarantees" if switches else "http-compare"
    saved = LOGS.parent / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    saved.write_text(json.dumps(report, default=str, indent=1))
    if options.json:
        print(json.dumps(report, default=str))
    else:
        print_report(report)
    print(f"http_compare: report saved to {saved}", file=sys.stderr)
    failed = any(load["errors"] or load["timed_out"] for runs in loads.values() for load in runs)
    return 1 if failed else 0


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    head = Table(title="machine", show_header=False)
    for key, value in report["machine"].items():
        head.add_row(key, str(value))
    console.print(head)
    table = Table(title=f"HTTP, {report['settings']['orders']} orders, medians of {report['settings']['rounds']}")
    for column in ("side", "req/s", "p50 ms", "p99 ms", "errors", "stale reads", "db sessions", "per round req/s"):
        table.add_column(column, justify="left" if column == "side" else "right")
    for name, figures in report["medians"].items():
        per_round = ", ".join(str(load["overall"]["requests_per_s"]) for load in report["rounds"][name])
        row = [figures[k] for k in (*FIGURES, "errors", "stale_reads", "database_sessions_opened")]
        table.add_row(name, *(str(value) for value in row), per_round)
    console.print(table)
    console.print(cpu_table(report["medians"]))
    console.print(f"ratio product/crud requests/s: {report['ratio_requests_per_s']}")
    for name, ratio in report.get("over_product", {}).items():
        console.print(f"{name} over the product with all on, requests/s: {ratio}")


def cpu_table(medians: dict[str, dict[str, Any]]) -> Any:
    """Each side's CPU ms an order by kind of process (bench/process_cpu.py), medians of the rounds."""
    from rich.table import Table

    kinds = list(dict.fromkeys(kind for figures in medians.values() for kind in figures["cpu_ms_per_order"]))
    kinds = [kind for kind in kinds if kind != "total"] + ["total"]  # the sum last
    table = Table(title="CPU ms an order, by kind of process (medians of the rounds)")
    for column in ("side", *kinds):
        table.add_column(column, justify="left" if column == "side" else "right")
    for name, figures in medians.items():
        table.add_row(name, *(str(figures["cpu_ms_per_order"].get(kind, "")) for kind in kinds))
    return table


if __name__ == "__main__":
    sys.exit(main())
