"""What every phase shares: the machine record, emptying the bench database, counting events."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connections

from eventlog.append_only import maintenance_window

ROOT = Path(__file__).resolve().parents[2]
# Apps whose tables --fresh empties: the event log and everything derived from it, checkpoints
# and dead letters included (projector): checkpoints left at the last run's head would mark the
# new run's events as applied, and the lag phase would wait for projections that never come.
EMPTIED_APPS = ("eventlog", "projector", "readmodels", "notifications", "fulfilment")
# What is derived from the log: emptied, a catch-up from position 0 rebuilds it live.
DERIVED_APPS = tuple(label for label in EMPTIED_APPS if label != "eventlog")


def git_revision() -> str:
    """The checked-out revision, with '+dirty' when tracked files have changes."""
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    # Untracked files (a symlinked .venv in a worktree) do not change the code measured.
    status = ["git", "status", "--porcelain", "--untracked-files=no"]
    dirty = subprocess.run(status, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return (run.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def machine(using: str = "default") -> dict[str, Any]:
    """Where the figures were measured: cores, memory, Python, database version, git revision."""
    with connections[using].cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "postgresql": server,
        "database": connections[using].settings_dict["NAME"],
        "git_revision": git_revision(),
        # A busy machine explains odd figures: the 1-minute load when the run began, and when.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def save_report(report: dict[str, Any], kind: str) -> Path:
    """Keep the run's JSON report under bench/results/ (git-ignored); returns its path."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, default=str, indent=1))
    return path


def empty_database(using: str = "default", apps: tuple[str, ...] = EMPTIED_APPS) -> None:
    """Empty the event log and read models (positions restart at 1), or only the tables of
    `apps`; bench databases only."""
    name = str(connections[using].settings_dict["NAME"])
    if "bench" not in name:
        raise RuntimeError(f"refusing to empty {name!r}: benchmarks use a database named *bench*")
    from django.apps import apps as registry

    tables = [
        model._meta.db_table
        for label in apps
        if label in registry.app_configs
        for model in registry.get_app_config(label).get_models()
        if model._meta.managed
    ]
    # The event log refuses TRUNCATE (eventlog/migrations/0003); a bench database is thrown away.
    with maintenance_window(using), connections[using].cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")


def event_count(using: str = "default") -> int:
    """How many events the log holds."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM eventlog_storedevent")
        return int(cursor.fetchone()[0])


def delete_queue(name: str) -> None:
    """Drop a throwaway broker queue a phase rang doorbells on."""
    from config.celery import app

    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # kombu types it as the abstract StdChannel
        channel.queue_delete(name)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux ru_maxrss is in KB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
