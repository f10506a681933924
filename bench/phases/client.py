"""A write client in its own OS process (spawned): imports Django only after django.setup()."""

from __future__ import annotations

import time
from typing import Any


def run_client(orders: int, seed: int, offset: int, ring: bool, start: Any, results: Any) -> None:
    """Set Django up, build this client's commands, wait for the start signal, send them."""
    import django

    django.setup()
    from bench.phases.write import doorbell
    from bench.workload import workload
    from writeside.bus import handle

    commands = list(workload(orders, seed, offset))
    latencies: list[float] = []
    with doorbell(ring):
        start.wait()
        began = time.perf_counter()
        for command in commands:
            sent = time.perf_counter()
            handle(command)
            latencies.append((time.perf_counter() - sent) * 1000)
        results.put((latencies, began, time.perf_counter()))
