"""Ours vs the peer (the `eventsourcing` library) on the standard workload, in one run.

    .venv/bin/python bench/compare.py --orders 2000 --rounds 3 [--phases write,write2,project] [--load] [--json]

`make bench-peer` sets the databases up and runs this. Each round runs both sides, one after the
other in separate processes, each on its own freshly emptied database: ours through
`manage.py bench --fresh --json` (DATABASE_URL, the bench database), the peer through
`bench/.peer-venv/bin/python bench/peer/run.py --fresh --json` (POSTGRES_*, database bench_peer).
Which side goes first alternates from round to round. Prints the median of each figure over the
rounds for both sides and the ratio ours/peer (a table, or one JSON object with --json).

No Django here: it only starts the two benchmarks and reads their JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OURS_PYTHON = ROOT / ".venv" / "bin" / "python"
PEER_PYTHON = ROOT / "bench" / ".peer-venv" / "bin" / "python"

# (phase, dotted figure, label, higher is better)
FIGURES: list[tuple[str, str, str, bool]] = [
    ("write", "commands_per_s", "write commands/s", True),
    ("write", "p50_ms", "write p50 ms", False),
    ("write", "p99_ms", "write p99 ms", False),
    ("write2", "commands_per_s", "write2 commands/s (two client processes)", True),
    ("write2", "p50_ms", "write2 p50 ms", False),
    ("write2", "p99_ms", "write2 p99 ms", False),
    ("project", "events_per_s", "project events/s (all of ours' read models)", True),
    ("project", "orders_projection_events_per_s", "project events/s (ours: orders projection only)", True),
    ("load", "small.p50_ms", "load 10-event order p50 ms", False),
    ("load", "large.p50_ms", "load 10,000-event order p50 ms", False),
    ("load", "ratio_p50", "load ratio large/small p50", False),
]


def _dig(figures: dict[str, Any], dotted: str) -> float | None:
    value: Any = figures
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def _run(side: str, command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one side's benchmark; its JSON report (its progress goes to our stderr)."""
    print(f"compare: {side}: {shlex.join(command)}", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"compare: {side} failed (exit {done.returncode})")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def ours(orders: int, phases: list[str], extra: list[str]) -> dict[str, Any]:
    """Our figures for the phases (load in its own fresh run: ours' load reuses the write phase's
    seed, so after a write on the same log its first order already exists)."""
    env = {**os.environ, "DEBUG": "false"}
    base = [str(OURS_PYTHON), "manage.py", "bench", "--json", "--fresh", "--orders", str(orders), *extra]
    phases_report: dict[str, Any] = {}
    machine: dict[str, Any] = {}
    groups = [[p for p in phases if p != "load"], ["load"] if "load" in phases else []]
    for group in (g for g in groups if g):
        report = _run("ours", base + [arg for phase in group for arg in ("--phase", phase)], env)
        machine = report["machine"]
        phases_report.update(report["phases"])
    return {"machine": machine, "phases": phases_report}


def peer(orders: int, phases: list[str]) -> dict[str, Any]:
    """The peer's figures for the phases (its load uses its own seed, so one run does all)."""
    env = {**os.environ}
    command = [str(PEER_PYTHON), "bench/peer/run.py", "--json", "--fresh", "--orders", str(orders)]
    report = _run("peer", command + [arg for phase in phases for arg in ("--phase", phase)], env)
    project = report["phases"].get("project")
    if project:  # the peer's one projection is OrderSummary: the same figure in both rows
        project["orders_projection_events_per_s"] = project["events_per_s"]
    return {"machine": report["machine"], "phases": report["phases"]}


def medians(rounds: list[dict[str, Any]]) -> dict[str, float | None]:
    """The median of each figure over the rounds."""
    result: dict[str, float | None] = {}
    for phase, dotted, _, _ in FIGURES:
        values = [v for r in rounds if (v := _dig(r["phases"].get(phase, {}), dotted)) is not None]
        result[f"{phase}.{dotted}"] = round(statistics.median(values), 3) if values else None
    return result


def compare(orders: int, rounds: int, phases: list[str], extra: list[str]) -> dict[str, Any]:
    """Run both sides `rounds` times, alternating which goes first; medians and ratios."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "peer": []}
    started = time.perf_counter()
    for n in range(rounds):
        order = ["ours", "peer"] if n % 2 == 0 else ["peer", "ours"]
        for side in order:
            print(f"compare: round {n + 1}/{rounds}, {side}", file=sys.stderr, flush=True)
            runs[side].append(ours(orders, phases, extra) if side == "ours" else peer(orders, phases))
    ours_medians, peer_medians = medians(runs["ours"]), medians(runs["peer"])
    table = []
    for phase, dotted, label, higher_better in FIGURES:
        key = f"{phase}.{dotted}"
        a, b = ours_medians[key], peer_medians[key]
        if a is None and b is None:
            continue
        ratio = round(a / b, 2) if a is not None and b else None
        table.append(
            {
                "figure": key,
                "label": label,
                "ours": a,
                "peer": b,
                "ours_over_peer": ratio,
                "higher_is_better": higher_better,
            }
        )
    return {
        "machine": {"ours": runs["ours"][-1]["machine"], "peer": runs["peer"][-1]["machine"]},
        "orders": orders,
        "rounds": rounds,
        "phases": phases,
        "medians": table,
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_table(result: dict[str, Any]) -> None:
    """The machine and the medians as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    machine = Table(title="machine", show_header=True)
    machine.add_column("")
    machine.add_column("ours")
    machine.add_column("peer")
    keys = list(dict.fromkeys([*result["machine"]["ours"], *result["machine"]["peer"]]))
    for key in keys:
        machine.add_row(key, str(result["machine"]["ours"].get(key, "")), str(result["machine"]["peer"].get(key, "")))
    machine.add_row("orders (N)", str(result["orders"]), str(result["orders"]))
    machine.add_row("rounds", str(result["rounds"]), str(result["rounds"]))
    console.print(machine)
    table = Table(title=f"medians over {result['rounds']} rounds, N={result['orders']}")
    for column in ("figure", "ours", "peer", "ours/peer", "better"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for row in result["medians"]:
        table.add_row(
            row["label"],
            "-" if row["ours"] is None else f"{row['ours']:g}",
            "-" if row["peer"] is None else f"{row['peer']:g}",
            "-" if row["ours_over_peer"] is None else f"{row['ours_over_peer']:g}",
            "higher" if row["higher_is_better"] else "lower",
        )
    console.print(table)


def publish(result: dict[str, Any], kind: str, as_json: bool, table: Callable[[dict[str, Any]], None]) -> None:
    """Save the report as bench/results/<kind>-<UTC time>.json, then print it: one JSON
    object, or `table`'s tables."""
    saved = ROOT / "bench" / "results" / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(result, default=str, indent=1))
    print(f"{kind}: report saved to {saved}", file=sys.stderr)
    if as_json:
        print(json.dumps(result, default=str))
    else:
        table(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000, help="N orders (4N commands); default 2000")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both sides; default 3")
    parser.add_argument("--phases", default="write,write2,project", help="comma-separated: write,write2,project[,load]")
    parser.add_argument("--load", action="store_true", help="add the load phase (10,000- vs 10-event aggregate)")
    parser.add_argument("--ours-args", default="", help="extra arguments for manage.py bench, e.g. --no-doorbell")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    options = parser.parse_args(argv)
    phases = [p for p in options.phases.split(",") if p] + (["load"] if options.load else [])
    unknown = set(phases) - {"write", "write2", "project", "load"}
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if not PEER_PYTHON.exists():
        parser.error(f"{PEER_PYTHON} is missing: run `make bench-peer` (it makes the peer's virtualenv)")
    result = compare(options.orders, options.rounds, list(dict.fromkeys(phases)), shlex.split(options.ours_args))
    publish(result, "compare", options.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
