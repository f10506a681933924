"""The audit middleware (settings.COMMAND_MIDDLEWARE): records every command the bus is given,
exactly one row per command tried, whatever its outcome.

A command that commits writes its row in its own transaction (`Dispatch.in_transaction`), after
its events and record: the row commits with them, and auditing costs no commit of its own (on
PostgreSQL a commit waits for the WAL to reach disk). Any other outcome (refused, a duplicate, a
conflict, a failure, or a transaction that rolled back after its row was written) gets its row
after the command ends, on its own. Either way the row goes in a savepoint, so a failure to
audit (the database just went away) is logged and never hides or replaces the command's own
answer; inside a caller's transaction (the process manager's) the row commits or rolls back with
the commands it describes.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql import InsertQuery
from django.utils import timezone

from audit.models import CommandAudit
from writeside.bus import payload
from writeside.pipeline import Dispatch, Next, outcome
from writeside.unit_of_work import CommandResult

logger = logging.getLogger(__name__)


def record_command(dispatch: Dispatch, call_next: Next) -> CommandResult:
    """Run the command; its audit row goes in its transaction if it commits, after it if not."""
    started = time.perf_counter()
    audited: list[CommandResult] = []

    def in_transaction(result: CommandResult) -> None:
        if _write(_row(dispatch, started, result, None)):
            audited.append(result)

    dispatch.in_transaction.append(in_transaction)
    try:
        result = call_next(dispatch)
    except Exception as error:
        _write(_row(dispatch, started, None, error))  # a row its transaction wrote rolled back with it
        raise
    # The answer of the committed transaction is the very object its row was written for; a
    # duplicate's answer (the first result, read back) or an unaudited one is written now.
    if not any(done is result for done in audited):
        _write(_row(dispatch, started, result, None))
    return result


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
        payload=payload(command),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _write(record: CommandAudit) -> bool:
    """Insert the row; False (and logged) if it could not be."""
    using = settings.EVENTLOG_DATABASE
    connection = connections[using]
    try:
        if not connection.in_atomic_block:
            record.save(using=using)  # autocommit: one statement, one round trip
        elif connection.vendor == "postgresql":
            _insert_in_savepoint(record, connection)
        else:
            with transaction.atomic(using=using):  # a savepoint: a failed insert spares the transaction
                record.save(using=using)
    except Exception:
        logger.exception("Could not record the audit of command %s (%s)", record.command_id, record.command_type)
        return False
    return True


def _insert_in_savepoint(record: CommandAudit, connection: BaseDatabaseWrapper) -> None:
    """The row's INSERT between SAVEPOINT and RELEASE, the three sent as one message (one round
    trip instead of the three `transaction.atomic` would take); rolled back to the savepoint if
    it fails, so the transaction around it can still commit."""
    query = InsertQuery(CommandAudit)
    query.insert_values([f for f in CommandAudit._meta.local_concrete_fields if not f.primary_key], [record])
    [(insert, params)] = query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        try:
            cursor.execute(f"SAVEPOINT audit_row; {insert}; RELEASE SAVEPOINT audit_row", params)
        except Exception:
            cursor.execute("ROLLBACK TO SAVEPOINT audit_row; RELEASE SAVEPOINT audit_row")
            raise
