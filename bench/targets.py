"""Every performance target with its latest figure and met/not met, in one table, so a
regression shows in one run (`make bench-report`).

No Django and no benchmark of its own: it reads the JSON reports the benchmarks already write
to bench/results/ (`manage.py bench`'s bench-*.json, `bench/compare.py`'s compare-*.json,
`bench/http_compare.py`'s http-compare-*.json), taking for each target the newest report that
holds its figure. A figure measured at a smaller scale than its target names (a short run) is
judged all the same and marked `short`, so a short run shows a regression without passing
for the full-size figure.

    .venv/bin/python bench/targets.py [--results bench/results] [--json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MET, NOT_MET, MISSING = "met", "NOT MET", "no figure"

# What a report's figure is read from: (file name prefix, how to find the figure in it).
Finder = Callable[[dict[str, Any]], Any]


def dig(*keys: str | int) -> Finder:
    """A finder of a nested figure (None where the report lacks it)."""

    def find(report: dict[str, Any]) -> Any:
        value: Any = report
        for key in keys:
            in_dict = isinstance(value, dict) and key in value
            if not (in_dict or (isinstance(value, list) and isinstance(key, int) and key < len(value))):
                return None
            value = value[key]
        return value

    return find


def peer_ratio(figure: str) -> Finder:
    """ours/peer of a compare report's median figure (bench/compare.py's `medians` rows)."""

    def find(report: dict[str, Any]) -> Any:
        for row in report.get("medians", []):
            if row.get("figure") == figure:
                return row.get("ours_over_peer")
        return None

    return find


def rebuild_kept_rows(report: dict[str, Any]) -> Any:
    """The fewest OrderSummary rows a reader counted during the rebuild over the rows it
    started with: 1.0 when no reader ever saw a half-built table."""
    live = report.get("phases", {}).get("rebuild_live") or {}
    before, fewest = live.get("summary_rows_before"), live.get("summary_rows_fewest_seen")
    if not before or fewest is None:
        return None
    return round(fewest / before, 4)


def http_clean(report: dict[str, Any]) -> Any:
    """Errors plus stale reads over both sides of an HTTP comparison."""
    medians = report.get("medians") or {}
    if not medians:
        return None
    return sum(int(side.get("errors", 0)) + int(side.get("stale_reads", 0)) for side in medians.values())


@dataclass(frozen=True)
class Scale:
    """The size a target is set at: a figure of the same report, and its least value."""

    figure: Finder
    full: float
    unit: str


@dataclass(frozen=True)
class Target:
    """One target: where its figure comes from, the comparison it must pass, its scale."""

    name: str
    source: str  # the report file's prefix in bench/results/
    figure: Finder
    compare: str  # ">=", ">", "<=", "<", "=="
    threshold: float
    unit: str = ""
    scale: Scale | None = None

    def judge(self, value: Any) -> str:
        """met or not met for a figure; `no figure` for none."""
        if not isinstance(value, int | float):
            return MISSING
        passes: Callable[[Any, Any], bool] = COMPARISONS[self.compare]
        return MET if passes(value, self.threshold) else NOT_MET


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


def phase(*keys: str) -> Finder:
    """A finder of a `manage.py bench` report's phase figure."""
    return dig("phases", *keys)


HTTP = Scale(dig("settings", "orders"), 1000, "orders")
PEER = Scale(dig("orders"), 2000, "orders")
PROJECT = Scale(phase("project", "events"), 16_000, "events")
LAG = Scale(phase("lag", "commands"), 2000, "commands")
REBUILD = Scale(phase("rebuild_live", "events"), 1_000_000, "events")
READ = Scale(phase("read", "orders"), 100_000, "orders")
ALL_MODELS, ORDERS_ALONE = phase("project", "events_per_s"), phase("project", "orders_projection_events_per_s")

TARGETS = [
    Target("HTTP: requests/s over plain DRF CRUD", "http-compare", dig("ratio_requests_per_s"), ">=", 0.6, "x", HTTP),
    Target("HTTP: errors + stale reads, both sides", "http-compare", http_clean, "==", 0),
    Target("write: commands/s over the peer", "compare", peer_ratio("write.commands_per_s"), ">=", 0.8, "x", PEER),
    Target("write: p99 over the peer's p99", "compare", peer_ratio("write.p99_ms"), "<=", 1.5, "x", PEER),
    Target("write2: commands/s over the peer", "compare", peer_ratio("write2.commands_per_s"), ">=", 0.8, "x", PEER),
    Target("project: events/s, all read models", "bench", ALL_MODELS, ">=", 12_000, "events/s", PROJECT),
    Target("project: events/s, orders alone", "bench", ORDERS_ALONE, ">=", 20_000, "events/s", PROJECT),
    Target("lag at 100 commands/s: p50", "bench", phase("lag", "p50_s"), "<", 0.05, "s", LAG),
    Target("lag at 100 commands/s: p99", "bench", phase("lag", "p99_s"), "<", 0.25, "s", LAG),
    Target("lag: commands never visible", "bench", phase("lag", "not_visible_after_deadline"), "==", 0),
    Target("rebuild: commands visible within, p99", "bench", phase("rebuild_live", "p99_s"), "<", 1.0, "s", REBUILD),
    Target("rebuild: peak RSS", "bench", phase("rebuild_live", "rebuild_peak_rss_mb"), "<", 500, "MB", REBUILD),
    Target("rebuild: share of rows a reader saw", "bench", rebuild_kept_rows, "==", 1.0, "", REBUILD),
    Target("read: OrderDetail p99", "bench", phase("read", "detail", "p99_ms"), "<", 3, "ms", READ),
    Target("read: list page p99", "bench", phase("read", "list_page", "p99_ms"), "<", 10, "ms", READ),
    Target("read: search p99", "bench", phase("read", "search", "p99_ms"), "<", 10, "ms", READ),
    Target("load: 10,000-event over 10-event order, p50", "bench", phase("load", "ratio_p50"), "<=", 2, "x"),
]  # fmt: skip


def reports(folder: Path, source: str) -> list[tuple[Path, dict[str, Any]]]:
    """The `source` reports in `folder`, newest first (their names carry the UTC time)."""
    found = []
    for path in sorted(folder.glob(f"{source}-*.json"), key=lambda p: p.name, reverse=True):
        # bench-*.json must not match bench-peer or the like: the time follows the prefix.
        if not path.name.removeprefix(f"{source}-")[:8].isdigit():
            continue
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue  # a run cut short leaves a partial file; an older report still counts
    return found


def recorded(report: dict[str, Any]) -> dict[str, Any]:
    """Where and when a report was measured (compare reports hold both sides': ours)."""
    machine = report.get("machine") or {}
    machine = machine.get("ours", machine) if isinstance(machine.get("ours"), dict) else machine
    return {key: machine.get(key) for key in ("git_revision", "recorded_at", "load_average_1m")}


def evaluate(folder: Path = RESULTS) -> list[dict[str, Any]]:
    """One row per target: its figure from the newest report holding it, and the verdict."""
    cache: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    rows = []
    for target in TARGETS:
        found = cache.setdefault(target.source, reports(folder, target.source))
        path, report, value = next(
            ((p, r, v) for p, r in found if (v := target.figure(r)) is not None), (None, {}, None)
        )
        scale = target.scale.figure(report) if target.scale and report else None
        short = target.scale is not None and isinstance(scale, int | float) and scale < target.scale.full
        rows.append(
            {
                "target": target.name,
                "wanted": f"{target.compare} {target.threshold:g} {target.unit}".strip(),
                "figure": value,
                "unit": target.unit,
                "status": target.judge(value),
                "scale": f"{scale:,} {target.scale.unit}" if target.scale and isinstance(scale, int | float) else None,
                "short": short,
                "report": path.name if path else None,
                **(recorded(report) if report else {}),
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The rows as one rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="performance targets (newest figure of each, bench/results/)")
    for column in ("target", "wanted", "figure", "status", "measured at", "report", "revision, load"):
        table.add_column(column, justify="right" if column == "figure" else "left")
    styles = {MET: "green", NOT_MET: "bold red", MISSING: "yellow"}
    for row in rows:
        figure = "-" if row["figure"] is None else f"{row['figure']:g} {row['unit']}".strip()
        scale = (row["scale"] or "") + (" (short)" if row["short"] else "")
        where = f"{row.get('git_revision') or ''}, {row.get('load_average_1m') or ''}" if row["report"] else ""
        status = f"[{styles[row['status']]}]{row['status']}[/]"
        table.add_row(row["target"], row["wanted"], figure, status, scale, row["report"] or "-", where)
    console = Console(width=None if sys.stdout.isatty() else 180)
    console.print(table)
    cores = os.cpu_count() or 1
    if any((row.get("load_average_1m") or 0) >= cores for row in rows):
        console.print(f"A run began at a load of {cores} (the cores) or more: its figures measure the neighbours too.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS, help="the folder of JSON reports")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is not met or has no figure")
    options = parser.parse_args(argv)
    rows = evaluate(options.results)
    if options.json:
        print(json.dumps({"targets": rows}, default=str))
    else:
        print_table(rows)
    return 1 if options.strict and any(row["status"] != MET for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
