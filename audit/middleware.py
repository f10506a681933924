"""The audit middleware (settings.COMMAND_MIDDLEWARE): records every command the bus is given.

The record is written after the command ends, in a savepoint of its own, so a failure to
audit (the database just went away) is logged and never hides or replaces the command's own
answer. Inside a caller's transaction (the process manager's) the record commits or rolls
back with the commands it describes.

Outside a transaction it is one autocommitted INSERT: auditing costs a command about one
round trip (measured in docs/operations.md).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from audit.models import CommandAudit
from writeside.bus import audited_payload
from writeside.pipeline import Dispatch, Next, outcome
from writeside.unit_of_work import CommandResult

logger = logging.getLogger(__name__)


def record_command(dispatch: Dispatch, call_next: Next) -> CommandResult:
    """Run the command, then append its audit record."""
    started = time.perf_counter()
    try:
        result = call_next(dispatch)
    except Exception as error:
        _record(dispatch, started, None, error)
        raise
    _record(dispatch, started, result, None)
    return result


def _record(dispatch: Dispatch, started: float, result: CommandResult | None, error: BaseException | None) -> None:
    command = dispatch.command
    meta = command.metadata
    target = getattr(command, "order_id", None) or getattr(command, "sku", None) or ""
    record = CommandAudit(
        recorded_at=timezone.now(),
        command_id=command.command_id,
        command_type=dispatch.command_type,
        outcome=outcome(dispatch, error),
        reason="" if error is None else f"{type(error).__name__}: {error}",
        user=meta.user or "",
        source=meta.source,
        correlation_id=str(meta.correlation_id),
        stream_id=result.stream_id if result else str(target),
        position=result.position if result else None,
        payload=audited_payload(command),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )
    using = settings.EVENTLOG_DATABASE
    try:
        if connections[using].in_atomic_block:
            with transaction.atomic(using=using):  # a savepoint: a failed insert spares the caller's transaction
                record.save(using=using)
        else:
            record.save(using=using)  # autocommit: one statement, one round trip
    except Exception:
        logger.exception("Could not record the audit of command %s (%s)", command.command_id, dispatch.command_type)
