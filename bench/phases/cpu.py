"""`cpu`: the client process's CPU time per command through the bus, which a busy machine
does not distort as it does wall-clock throughput (CPU time counts only this process's work).

Each round sends the workload's commands (fresh order ids, so rounds never collide) from one
client as the `write` phase does, doorbell included, and divides the process CPU time
(user + system, `time.process_time`) by the commands sent; the figure is the median over the
rounds. PostgreSQL's and the broker's CPU are other processes: not counted here. With a
`profile` path, one more round runs under cProfile timing CPU (not waits) and its cumulative
summary is written there.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from bench.phases.common import ROOT
from bench.phases.write import doorbell
from bench.workload import workload
from writeside.bus import handle

WARM_UP_ORDERS = 25
PROFILE_LINES = 60


def _round(orders: int, seed: int) -> tuple[float, float, int]:
    """Send `orders` orders' commands; (CPU s, wall s, commands)."""
    commands = list(workload(orders, seed, fresh_ids=True))
    cpu, wall = time.process_time(), time.perf_counter()
    for command in commands:
        handle(command)
    return time.process_time() - cpu, time.perf_counter() - wall, len(commands)


def cpu(orders: int, seed: int, rounds: int, *, ring: bool = True, profile: Path | None = None) -> dict[str, Any]:
    """CPU microseconds per command, the median of `rounds` rounds of `orders` orders each."""
    per_command: list[float] = []
    wall_per_command: list[float] = []
    with doorbell(ring):
        _round(WARM_UP_ORDERS, seed)  # imports, statement caches, the connection
        for n in range(rounds):
            spent, wall, count = _round(orders, seed + n + 1)
            per_command.append(spent / count * 1e6)
            wall_per_command.append(wall / count * 1e6)
        if profile is not None:
            profiler = cProfile.Profile(time.process_time)  # CPU, not time spent waiting
            profiler.enable()
            _, _, count = _round(orders, seed + rounds + 1)
            profiler.disable()
            profile.parent.mkdir(parents=True, exist_ok=True)
            profile.write_text(summary(profiler, count))
    return {
        "cpu_us_per_command": round(statistics.median(per_command), 1),
        "cpu_us_per_command_rounds": [round(value, 1) for value in per_command],
        # Wall time on a loaded machine measures the neighbours too; kept for reference only.
        "wall_us_per_command": round(statistics.median(wall_per_command), 1),
        "commands_per_round": orders * 4,
        "rounds": rounds,
        "doorbell": bool(ring and settings.CELERY_BROKER_URL),
        **({"profile": str(profile)} if profile is not None else {}),
    }


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own CPU seconds summed by top-level package (Django by subpackage, the standard
    library by module, C functions as `built-in`): where the time goes, flame-graph style."""
    totals: dict[str, float] = {}
    for (filename, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
        path = filename.split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
        if filename.startswith("~") or filename.startswith("<"):
            name = "built-in"
        elif path.startswith("django/"):
            name = "/".join(path.split("/")[:2])
        elif "/python3." in path:
            name = "stdlib " + path.split("/python3.")[1].split("/", 1)[-1].split("/")[0].removesuffix(".py")
        else:
            name = path.split("/")[0].removesuffix(".py")
        totals[name] = totals.get(name, 0.0) + row[2]
    return sorted(totals.items(), key=lambda item: -item[1])


def summary(profiler: cProfile.Profile, commands: int) -> str:
    """Own CPU per command by package, then the functions by cumulative and by own time."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    packages = by_package(stats)
    total = sum(seconds for _, seconds in packages) or 1.0
    out.write(f"own CPU by package, microseconds per command under the profiler ({commands} commands)\n")
    for name, seconds in packages[: PROFILE_LINES // 2]:
        out.write(f"  {name:<40} {seconds / commands * 1e6:8.0f}  {seconds / total:6.1%}\n")
    stats.strip_dirs()
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    return out.getvalue()
