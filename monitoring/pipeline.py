"""Bus middleware for logs and metrics: one line and one count per command tried
(settings.COMMAND_MIDDLEWARE), with its outcome and latency, whoever sent it; the same for
every query asked (settings.QUERY_MIDDLEWARE)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from readmodels.queries import Query
from telemetry.counters import COMMAND_SECONDS, COMMANDS, QUERIES, QUERY_SECONDS
from telemetry.logs import bound
from writeside.pipeline import COMMITTED, DUPLICATE, Dispatch, Next, outcome
from writeside.unit_of_work import CommandResult

logger = logging.getLogger("orders.commands")
query_logger = logging.getLogger("readmodels.queries")


def log_command(dispatch: Dispatch, call_next: Next) -> CommandResult:
    """Bind the command's context for every line logged while it runs; log how it ended."""
    command = dispatch.command
    meta = command.metadata
    with bound(
        command_id=command.command_id,
        command_type=dispatch.command_type,
        correlation_id=str(meta.correlation_id),
        user=meta.user,
        source=meta.source,
    ):
        started = time.perf_counter()
        try:
            result = call_next(dispatch)
        except Exception as error:
            level = logging.ERROR if outcome(dispatch, error) == "failed" else logging.INFO
            logger.log(
                level,
                "Command %s %s: %s",
                dispatch.command_type,
                outcome(dispatch, error),
                error,
                extra={"outcome": outcome(dispatch, error), "duration_ms": _ms(started)},
                exc_info=level == logging.ERROR,
            )
            raise
        logger.info(
            "Command %s %s",
            dispatch.command_type,
            outcome(dispatch, None),
            extra={
                "outcome": outcome(dispatch, None),
                "duration_ms": _ms(started),
                "stream_id": result.stream_id,
                "position": result.position,
                "version": result.version,
            },
        )
        return result


def measure_command(dispatch: Dispatch, call_next: Next) -> CommandResult:
    """Count the command by type and outcome and time it."""
    started = time.perf_counter()
    try:
        result = call_next(dispatch)
    except Exception as error:
        COMMANDS.labels(command_type=dispatch.command_type, outcome=outcome(dispatch, error)).inc()
        raise
    finally:
        COMMAND_SECONDS.labels(command_type=dispatch.command_type).observe(time.perf_counter() - started)
    COMMANDS.labels(command_type=dispatch.command_type, outcome=DUPLICATE if dispatch.duplicate else COMMITTED).inc()
    return result


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _answered(answer: object) -> str:
    return "not_found" if answer is None else "answered"


def log_query(query: Query[object], call_next: Callable[[Query[object]], object]) -> object:
    """Bind the query's name for the lines logged while it runs; log how it ended (DEBUG:
    queries are many, and the request line already says what was asked)."""
    name = type(query).__name__
    with bound(query=name):
        started = time.perf_counter()
        try:
            answer = call_next(query)
        except Exception:
            query_logger.exception("Query %s failed", name, extra={"outcome": "failed", "duration_ms": _ms(started)})
            raise
        query_logger.debug(
            "Query %s %s", name, _answered(answer), extra={"outcome": _answered(answer), "duration_ms": _ms(started)}
        )
        return answer


def measure_query(query: Query[object], call_next: Callable[[Query[object]], object]) -> object:
    """Count the query by name and outcome (answered, not_found, failed) and time it."""
    name = type(query).__name__
    started = time.perf_counter()
    try:
        answer = call_next(query)
    except Exception:
        QUERIES.labels(query=name, outcome="failed").inc()
        raise
    finally:
        QUERY_SECONDS.labels(query=name).observe(time.perf_counter() - started)
    QUERIES.labels(query=name, outcome=_answered(answer)).inc()
    return answer
