"""Prometheus counters and histograms named `backoffice_*`: what happened, counted where it
happens (the bus, the engine, the throttles, Celery's task signals), in prometheus_client's
registry; monitoring/metrics.py serves them with the state it reads at scrape time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Histogram

COMMANDS = Counter("backoffice_commands", "Commands handled, by type and outcome.", ["command_type", "outcome"])
COMMAND_SECONDS = Histogram(
    "backoffice_command_duration_seconds",
    "Time to handle a command, retries included.",
    ["command_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
QUERIES = Counter("backoffice_queries", "Queries answered, by name and outcome.", ["query", "outcome"])
QUERY_SECONDS = Histogram("backoffice_query_duration_seconds", "Time to answer a query.", ["query"])
EVENTS_APPENDED = Counter("backoffice_events_appended", "Events committed to the log, by stream type.", ["stream_type"])
DOORBELLS = Counter(
    "backoffice_doorbells",
    "Projection doorbells: sent, coalesced (one already waiting), failed (broker down), skipped (broker cooldown).",
    ["outcome"],
)
CELERY_TASKS = Counter("backoffice_celery_tasks", "Celery task outcomes, by task.", ["task", "outcome"])
THROTTLE_CACHE_FAILURES = Counter(
    "backoffice_throttle_cache_failures", "Throttle checks whose cache call failed (web.throttles)."
)
THROTTLE_UNTHROTTLED = Counter(
    "backoffice_throttle_unthrottled", "Requests let through without a throttle check while the cache was down."
)


def count_appended(events: Sequence[Any]) -> None:
    """EVENT_SUBSCRIBERS entry: count committed events by stream type (called after COMMIT)."""
    for event in events:
        EVENTS_APPENDED.labels(stream_type=event.stream_type).inc()


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender)


def connect_celery_signals() -> None:
    """Count each task's outcome: succeeded, failed, retried, rejected, revoked."""
    from celery import signals

    def counter(outcome: str) -> Any:
        def receive(sender: Any = None, **kwargs: Any) -> None:
            request = kwargs.get("request")
            task = _task_name(getattr(request, "task", None) or sender) if outcome == "revoked" else _task_name(sender)
            CELERY_TASKS.labels(task=task, outcome=outcome).inc()

        return receive

    for signal, outcome in (
        (signals.task_success, "succeeded"),
        (signals.task_failure, "failed"),
        (signals.task_retry, "retried"),
        (signals.task_rejected, "rejected"),
        (signals.task_revoked, "revoked"),
    ):
        signal.connect(counter(outcome), weak=False, dispatch_uid=f"backoffice-metrics-{outcome}")
