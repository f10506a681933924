"""The guarantees a benchmark may switch off, one at a time, to measure what each costs
(docs/performance.md, "What each guarantee costs"); never the product's.

Only bench/settings.py reads the switches (BENCH_WITHOUT, once, when the settings load), and it
refuses to load outside a benchmark (BENCH=1, which the Makefile's bench targets set); the
product's settings (config/settings.py) never read them, and `check --deploy` fails on settings
that hold any (bench/apps.py). With none set, the product's code path is the product's own:
nothing here runs per command.

    audit      the audit row in the command's transaction (audit.middleware.record_command)
    record     the idempotency record: its look-up before the command and its write with the append
    doorbell   the doorbell after commit (projector.dispatch.on_events_committed)
    telemetry  the buses' log line and metrics middleware, the HTTP request metrics, the
               committed-events counter

The HTTP load adds `read_your_writes` (bench/http_load.py: the detail read without
?min_position=), a switch of the client's, not of the server's settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SWITCHES = {
    "audit": "the audit row in the command's transaction",
    "record": "the idempotency record (look-up and write)",
    "doorbell": "the doorbell after commit",
    "telemetry": "the log and metrics middleware",
}
# What each settings switch removes from which list setting (the record's is the unit of work's).
REMOVED: dict[str, dict[str, set[str]]] = {
    "audit": {"COMMAND_MIDDLEWARE": {"audit.middleware.record_command"}},
    "doorbell": {"EVENT_SUBSCRIBERS": {"projector.dispatch.on_events_committed"}},
    "telemetry": {
        "COMMAND_MIDDLEWARE": {"monitoring.pipeline.log_command", "monitoring.pipeline.measure_command"},
        "QUERY_MIDDLEWARE": {"monitoring.pipeline.log_query", "monitoring.pipeline.measure_query"},
        "MIDDLEWARE": {
            "django_prometheus.middleware.PrometheusBeforeMiddleware",
            "monitoring.middleware.RequestMetricsMiddleware",
        },
        "EVENT_SUBSCRIBERS": {"telemetry.counters.count_appended"},
    },
    "record": {},
}


def parse(text: str) -> frozenset[str]:
    """The switches a comma-separated list names; ValueError naming any unknown one."""
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = names - SWITCHES.keys()
    if unknown:
        raise ValueError(f"unknown guarantee switches {sorted(unknown)}; known: {sorted(SWITCHES)}")
    return names


def without(namespace: dict[str, Any], switches: Iterable[str]) -> None:
    """Remove from the settings in `namespace` what each switch names; a name that is not
    there is an error, so a renamed middleware cannot leave a switch silently doing nothing."""
    for switch in switches:
        for setting, paths in REMOVED[switch].items():
            missing = paths - set(namespace[setting])
            if missing:
                raise ValueError(f"switch {switch!r}: {setting} holds none of {sorted(missing)}")
            namespace[setting] = [path for path in namespace[setting] if path not in paths]


def install(switches: frozenset[str]) -> None:
    """Give the default command bus an unrecorded unit of work when `record` is off (called
    once from the bench app's ready(); the other switches are settings only)."""
    if "record" not in switches:
        return
    import writeside.bus
    from bench.unrecorded import UnrecordedUnitOfWork
    from pipeline.chain import configured_middleware

    middleware: Any = configured_middleware("COMMAND_MIDDLEWARE")
    writeside.bus._default_bus = writeside.bus.MessageBus(uow_factory=UnrecordedUnitOfWork, middleware=middleware)
