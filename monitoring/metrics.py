"""The scrape: Prometheus metrics named `backoffice_*`, the counters where they are events
(telemetry/counters.py), read from the database at scrape time where they are state.

Under gunicorn (several worker processes) and Celery (prefork children),
PROMETHEUS_MULTIPROC_DIR makes every process write its counters to files in that directory and
a scrape sums them, so /metrics answers for all of them, not for whichever process took the
request. The state (projection lag, dead letters, heartbeat age) is one set of rows in the
database, read once per scrape by `StateCollector`, never kept in a process where it could go
stale.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from monitoring.health import beat_heartbeat, readiness
from projector.status import projection_status

logger = logging.getLogger(__name__)


class StateCollector(Collector):
    """Projection lag and dead letters, and the heartbeat's age, read from the database now."""

    def collect(self) -> Iterator[Metric]:
        lag_events = GaugeMetricFamily(
            "backoffice_projection_lag_events", "Events not yet applied.", labels=["projection"]
        )
        lag_seconds = GaugeMetricFamily(
            "backoffice_projection_lag_seconds", "Age of the oldest event not yet applied.", labels=["projection"]
        )
        letters = GaugeMetricFamily(
            "backoffice_projection_dead_letters",
            "Dead letters by status (parked: needs an operator).",
            labels=["projection", "status"],
        )
        up = GaugeMetricFamily("backoffice_state_scrape_ok", "1 if the database state could be read for this scrape.")
        try:
            statuses = projection_status()
            heartbeat = beat_heartbeat()
        except Exception as error:
            logger.warning("Metrics: could not read projection state: %s: %s", type(error).__name__, error)
            up.add_metric([], 0)
            yield up
            return
        for status in statuses:
            lag_events.add_metric([status.name], status.lag_events)
            lag_seconds.add_metric([status.name], status.lag_seconds)
            for state, count in (("retrying", status.retrying), ("parked", status.parked), ("held", status.held)):
                letters.add_metric([status.name, state], count)
        up.add_metric([], 1)
        yield from (lag_events, lag_seconds, letters, up)
        yield _readiness()
        age = heartbeat.detail.get("age_seconds")
        beat = GaugeMetricFamily("backoffice_beat_heartbeat_age_seconds", "Seconds since beat's last heartbeat.")
        if age is not None:  # no heartbeat yet (or no broker): the family, without a sample
            beat.add_metric([], age)
        yield beat


def _readiness() -> GaugeMetricFamily:
    """What /health/ready would answer now, per check (1 up, 0 not) and overall."""
    checks = readiness()
    family = GaugeMetricFamily(
        "backoffice_ready", "1 if the check passes (check=all: /health/ready is 200).", labels=["check"]
    )
    for check in checks:
        family.add_metric([check.name], 0 if check.failing or check.state != "up" else 1)
    family.add_metric(["all"], 0 if any(check.failing for check in checks) else 1)
    return family


class _ThisProcess(Collector):
    """The default registry's metrics, when there is no multiprocess directory to read."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> tuple[bytes, str]:
    """One scrape: every process's counters (or this one's) and the database's state."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(StateCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
