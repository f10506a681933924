"""Command-bus middleware for logs and metrics (settings.COMMAND_MIDDLEWARE): one line and one
count per command tried, with its outcome and latency, whoever sent it."""

from __future__ import annotations

import logging
import time

from monitoring.logs import bound
from monitoring.metrics import COMMAND_SECONDS, COMMANDS
from orders.pipeline import COMMITTED, DUPLICATE, Dispatch, Next, outcome
from orders.unit_of_work import CommandResult

logger = logging.getLogger("orders.commands")


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
