"""What each guarantee costs the writes: `manage.py bench`'s write phases with all guarantees
on and with each switched off in turn (bench/guarantees.py), alternating, in one run.

    .venv/bin/python bench/guarantee_cost.py --orders 1000 --rounds 3 [--without audit,record]
        [--phases write,write2,cpu] [--peer] [--json]
    make bench-cost COST_ARGS="--rounds 3"

Each round runs every variant once on the freshly emptied bench database, in an order that
shifts by one each round (the machine's load drifts; each variant takes each place in turn):
`all on` with the product's settings (config.settings), each switch with bench.settings and
BENCH_WITHOUT=<switch>, and with --peer the `eventsourcing` library (bench/compare.py's peer),
so a figure reads as "without X, ours would be Y times the peer". Prints the medians, each
variant over `all on`, and the microseconds a command the guarantee costs (1/rate with it on
minus 1/rate with it off); saves the JSON to bench/results/guarantees-*.json. The `cpu` phase
(ours only, 3 rounds of N orders) adds the client process's CPU µs a command, which a loaded
machine distorts far less than the rates: what each guarantee costs the client's Python.

No Django here: it starts the benchmarks and reads their JSON.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.compare import OURS_PYTHON, PEER_PYTHON, _dig, _run, peer, publish  # noqa: E402
from bench.guarantees import SWITCHES, parse  # noqa: E402

ALL_ON, PEER = "all on", "peer"
# (dotted figure, label, higher is better)
FIGURES = [
    ("write.commands_per_s", "write commands/s", True),
    ("write.p50_ms", "write p50 ms", False),
    ("write.p99_ms", "write p99 ms", False),
    ("write2.commands_per_s", "write2 commands/s", True),
    ("write2.p99_ms", "write2 p99 ms", False),
    ("cpu.cpu_us_per_command", "client CPU µs a command", False),
]
CPU_ROUNDS = "3"


def rotation(variants: list[str], round_number: int) -> list[str]:
    """The variants in this round's order: shifted by one each round."""
    shift = round_number % len(variants)
    return variants[shift:] + variants[:shift]


def ours(variant: str, orders: int, phases: list[str]) -> dict[str, Any]:
    """Our write phases with `variant` switched off (none for `all on`)."""
    env = {**os.environ, "DEBUG": "false", "DJANGO_SETTINGS_MODULE": "config.settings"}
    if variant != ALL_ON:
        env |= {"DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH": "1", "BENCH_WITHOUT": variant}
    command = [str(OURS_PYTHON), "manage.py", "bench", "--json", "--fresh", "--orders", str(orders)]
    command += ["--rounds", CPU_ROUNDS] if "cpu" in phases else []
    report = _run(f"ours, {variant}", command + [arg for phase in phases for arg in ("--phase", phase)], env)
    return {"machine": report["machine"], "phases": report["phases"]}


def cost_us(rate_on: float | None, rate_off: float | None) -> float | None:
    """Microseconds a command the guarantee costs: what one command takes with it, less without."""
    if not rate_on or not rate_off:
        return None
    return round(1e6 / rate_on - 1e6 / rate_off, 1)


def ratio(value: float | None, base: float | None) -> float | None:
    """value over base, where both are there."""
    return round(value / base, 3) if value is not None and base else None


def difference(on: float | None, off: float | None) -> float | None:
    """on less off, where both are there."""
    return round(on - off, 1) if on is not None and off is not None else None


def summarize(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per variant: the medians of FIGURES, each over `all on`, and the cost per command."""
    medians: dict[str, dict[str, float | None]] = {}
    for variant, reports in runs.items():
        medians[variant] = {}
        for figure, _, _ in FIGURES:
            values = [v for report in reports if (v := _dig(report["phases"], figure)) is not None]
            medians[variant][figure] = round(statistics.median(values), 3) if values else None
    base = medians[ALL_ON]
    rows = []
    for variant, figures in medians.items():
        over = {figure: ratio(value, base[figure]) for figure, value in figures.items()}
        rows.append(
            {
                "variant": variant,
                "what": SWITCHES.get(variant, "the eventsourcing library" if variant == PEER else "the product"),
                "medians": figures,
                "over_all_on": over,
                "write_cost_us": None
                if variant == PEER
                else cost_us(base["write.commands_per_s"], figures["write.commands_per_s"]),
                "write2_cost_us": None
                if variant == PEER
                else cost_us(base["write2.commands_per_s"], figures["write2.commands_per_s"]),
                "cpu_cost_us": difference(base["cpu.cpu_us_per_command"], figures["cpu.cpu_us_per_command"]),
            }
        )
    return rows


def measure(orders: int, rounds: int, switches: list[str], phases: list[str], with_peer: bool) -> dict[str, Any]:
    """Every variant `rounds` times, rotating the order; the rows and every run's report."""
    variants = [ALL_ON, *switches, *([PEER] if with_peer else [])]
    writes = [phase for phase in phases if phase != "cpu"]  # the peer has no cpu phase
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    loads: list[float] = []
    started = time.perf_counter()
    for n in range(rounds):
        for variant in rotation(variants, n):
            print(f"guarantee_cost: round {n + 1}/{rounds}, {variant}", file=sys.stderr, flush=True)
            loads.append(os.getloadavg()[0])
            runs[variant].append(peer(orders, writes) if variant == PEER else ours(variant, orders, phases))
    return {
        "machine": runs[ALL_ON][-1]["machine"],
        "orders": orders,
        "rounds": rounds,
        "phases": phases,
        "load_average_1m": {"min": min(loads), "max": max(loads)},
        "rows": summarize(runs),
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_table(result: dict[str, Any]) -> None:
    """The rows as one rich table."""
    from rich.console import Console
    from rich.table import Table

    load = result["load_average_1m"]
    title = (
        f"writes without each guarantee: medians of {result['rounds']} rounds, N={result['orders']}, "
        f"load {load['min']:.1f}-{load['max']:.1f}"
    )
    table = Table(title=title)
    columns = (
        "off",
        "write cmd/s",
        "p50 ms",
        "p99 ms",
        "write2 cmd/s",
        "write2 p99",
        "client CPU µs",
        "cost µs: 1, 2 clients, CPU",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "off" else "right")
    for row in result["rows"]:
        cells = []
        for figure, _, _ in FIGURES:
            value, ratio = row["medians"][figure], row["over_all_on"][figure]
            cells.append("-" if value is None else f"{value:g}" + ("" if ratio in (None, 1) else f" ({ratio:g}x)"))
        costs = (row["write_cost_us"], row["write2_cost_us"], row["cpu_cost_us"])
        cost = ", ".join("-" if c is None else f"{c:g}" for c in costs)
        table.add_row(row["variant"], *cells, cost)
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000, help="N orders (4N commands) a phase; default 1000")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every variant; default 3")
    parser.add_argument("--without", default=",".join(SWITCHES), help="the switches, comma-separated; default all")
    parser.add_argument("--phases", default="write,write2", help="comma-separated: write,write2,cpu")
    parser.add_argument("--peer", action="store_true", help="the eventsourcing library as one more variant")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    options = parser.parse_args(argv)
    try:
        switches = sorted(parse(options.without), key=list(SWITCHES).index)
    except ValueError as error:
        parser.error(str(error))
    phases = [p for p in options.phases.split(",") if p]
    if set(phases) - {"write", "write2", "cpu"} or not phases:
        parser.error("--phases: some of write, write2, cpu")
    if options.peer and not set(phases) & {"write", "write2"}:
        parser.error("--peer: the peer runs write and write2 only")
    if options.peer and not PEER_PYTHON.exists():
        parser.error(f"{PEER_PYTHON} is missing: run `make bench-peer` once (it makes the peer's virtualenv)")
    publish(
        measure(options.orders, options.rounds, switches, phases, options.peer), "guarantees", options.json, print_table
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
