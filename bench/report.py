"""Printing a bench report as tables (rich)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested figures as (dotted name, value) rows."""
    rows: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flatten(value, f"{name}.")
        elif isinstance(value, list):
            rows.append((name, json.dumps(value, default=str)))
        else:
            rows.append((name, str(value)))
    return rows


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """One table for the machine, one per phase."""
    console = console or Console()
    machine = Table(title="machine", show_header=False)
    for name, value in _flatten({**report["machine"], "orders (N)": report["orders"]}):
        machine.add_row(name, value)
    console.print(machine)
    for phase, figures in report["phases"].items():
        table = Table(title=phase)
        table.add_column("figure")
        table.add_column("value", justify="right")
        for name, value in _flatten(figures):
            table.add_row(name, value)
        console.print(table)
