"""Structured logs: one JSON object per line (python-json-logger) from web, worker and beat,
with time, level, logger, message and the context bound where it is known: request id, user,
command id and type, correlation id, stream id, position.

Context lives in a ContextVar, so it follows a request or a task and never leaks into the
next one. `ContextFilter` copies it onto every record; a value the log call passes itself
(`extra=`) wins. LOG_FORMAT=console gives a readable line for `make run` instead.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_context: ContextVar[dict[str, Any]] = ContextVar("backoffice_log_context", default={})  # noqa: B039 (never mutated)

# Projection lines list at most this many correlation ids of the events they apply.
MAX_CORRELATION_IDS = 20


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add `fields` (None values left out) to every log record made inside the block."""
    token = _context.set({**_context.get(), **{key: value for key, value in fields.items() if value is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, Any]:
    """The context bound now (for tests and for handing to another thread)."""
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (not over what the call set itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def events_fields(events: Sequence[Any]) -> dict[str, Any]:
    """What a line about a batch of events says: positions, and the stories they belong to.
    Built for every projection's batch (a rebuild's too), so it reads each event's metadata
    once and sorts only the ids it names."""
    correlations = {str(correlation) for event in events if (correlation := event.metadata.get("correlation_id"))}
    fields: dict[str, Any] = {
        "events": len(events),
        "first_position": events[0].position,
        "position": events[-1].position,
        "correlation_ids": heapq.nsmallest(MAX_CORRELATION_IDS, correlations),
    }
    if len(correlations) == 1:
        fields["correlation_id"] = next(iter(correlations))
    stream = events[0].stream_id
    if all(event.stream_id == stream for event in events):
        fields["stream_id"] = stream
    return fields


def logging_config(log_format: str, level: str, app_level: str) -> dict[str, Any]:
    """settings.LOGGING: JSON lines (default) or console lines, our loggers at `app_level`."""
    formatters = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "timestamp": "time",  # ISO 8601 in UTC, first in the line
            "rename_fields": {"levelname": "level", "name": "logger"},
        },
        "console": {"format": "{asctime} {levelname:<7} {name}: {message}", "style": "{"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "telemetry.logs.ContextFilter"}},
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "console" if log_format == "console" else "json",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            name: {"level": app_level}
            for name in (
                "orders",
                "inventory",
                "fulfilment",
                "projector",
                "readmodels",
                "notifications",
                "eventlog",
                "monitoring",
                "audit",
            )
        },
    }


def configure_celery_logging(loglevel: int | str | None = None, **kwargs: Any) -> None:
    """Celery's setup_logging signal: Django's LOGGING (JSON) in worker and beat instead of
    Celery's own format, Celery's loggers at the --loglevel it was started with."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)


def connect_task_context() -> None:
    """Bind each Celery task's name and id to the lines it logs (task_prerun to task_postrun)."""
    from celery import signals

    tokens: dict[str, Any] = {}

    def started(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
        tokens[task_id] = _context.set({**_context.get(), "task": getattr(task, "name", str(task)), "task_id": task_id})

    def finished(task_id: str = "", **kwargs: Any) -> None:
        token = tokens.pop(task_id, None)
        if token is not None:
            _context.reset(token)

    signals.task_prerun.connect(started, weak=False, dispatch_uid="backoffice-log-task-started")
    signals.task_postrun.connect(finished, weak=False, dispatch_uid="backoffice-log-task-finished")
