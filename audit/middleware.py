"""The audit middleware (settings.COMMAND_MIDDLEWARE): records every command the bus is given,
exactly one row per command tried, whatever its outcome.

A command that commits writes its row in its own transaction (`Dispatch.in_transaction`), after
its events and record: the row commits with them, and auditing costs no commit of its own (on
PostgreSQL a commit waits for the WAL to reach disk) and no round trip of its own (the row's
INSERT travels with the COMMIT, writeside/unit_of_work.py). Any other outcome (refused, a
duplicate, a conflict, a failure, or a transaction that rolled back after its row was written)
gets its row after the command ends, on its own. Either way the row goes in a savepoint, so a
failure to audit (the database just went away) is logged and never hides or replaces the
command's own answer; inside a caller's transaction (the process manager's) the row commits or
rolls back with the commands it describes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models.sql import InsertQuery
from django.utils import timezone

from audit.models import CommandAudit
from writeside.bus import audited_payload
from writeside.pipeline import Dispatch, Next, outcome
from writeside.unit_of_work import CommandResult

logger = logging.getLogger(__name__)


def record_command(dispatch: Dispatch, call_next: Next) -> CommandResult:
    """Run the command; its audit row goes in its transaction if it commits, after it if not."""
    started = time.perf_counter()
    row = AuditRow(dispatch, started)
    dispatch.in_transaction.append(row)
    try:
        result = call_next(dispatch)
    except Exception as error:
        _write(_row(dispatch, started, None, error))  # a row its transaction wrote rolled back with it
        raise
    # The answer of the committed transaction is the very object its row was written for; a
    # duplicate's answer (the first result, read back) or an unaudited one is written now.
    if row.committed_for is not result:
        _write(_row(dispatch, started, result, None))
    return result


class AuditRow:
    """The audit row of a command that commits, written in its transaction (a Companion)."""

    def __init__(self, dispatch: Dispatch, started: float) -> None:
        self.dispatch, self.started = dispatch, started
        self.pending: CommandResult | None = None
        self.committed_for: CommandResult | None = None

    def statement(self, result: CommandResult) -> tuple[str, Sequence[Any]]:
        """The row's INSERT, as Django would send it."""
        self.pending = result
        connection = connections[settings.EVENTLOG_DATABASE]
        query = InsertQuery(CommandAudit)
        fields = [field for field in CommandAudit._meta.local_concrete_fields if not field.primary_key]
        query.insert_values(fields, [_row(self.dispatch, self.started, result, None)])
        [(insert, params)] = query.get_compiler(connection=connection).as_sql()
        return insert, params

    def written(self) -> None:
        """The row committed with the command."""
        self.committed_for = self.pending


def _row(dispatch: Dispatch, started: float, result: CommandResult | None, error: BaseException | None) -> CommandAudit:
    command = dispatch.command
    meta = command.metadata
    target = getattr(command, "order_id", None) or getattr(command, "sku", None) or ""
    return CommandAudit(
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


def _write(record: CommandAudit) -> None:
    """Insert the row on its own (autocommitted, or in a savepoint of a caller's transaction)."""
    using = settings.EVENTLOG_DATABASE
    try:
        if connections[using].in_atomic_block:
            with transaction.atomic(using=using):  # a savepoint: a failed insert spares the caller's transaction
                record.save(using=using)
        else:
            record.save(using=using)  # autocommit: one statement, one round trip
    except Exception:
        logger.exception("Could not record the audit of command %s (%s)", record.command_id, record.command_type)
