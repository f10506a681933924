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
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from writeside.bus import audited_payload, dispatch_payload
from writeside.pipeline import Dispatch, Next, outcome
from writeside.unit_of_work import CommandResult

logger = logging.getLogger(__name__)

# The row's INSERT, written out once: compiling it with the ORM cost a committed command about a
# tenth of its time. Its columns are audit.models.CommandAudit's (a unit test holds them in step),
# its values `_values`' in this order.
COLUMNS = (
    "recorded_at",
    "command_id",
    "command_type",
    "outcome",
    "reason",
    "user",
    "source",
    "correlation_id",
    "stream_id",
    "position",
    "payload",
    "duration_ms",
)
INSERT_SQL = (
    'INSERT INTO "audit_commandaudit" ('
    + ", ".join(f'"{column}"' for column in COLUMNS)
    + ") VALUES ("
    + ", ".join("%s" for _ in COLUMNS)
    + ")"
)


def record_command(dispatch: Dispatch, call_next: Next) -> CommandResult:
    """Run the command; its audit row goes in its transaction if it commits, after it if not."""
    started = time.perf_counter()
    row = AuditRow(dispatch, started)
    dispatch.in_transaction.append(row)
    try:
        result = call_next(dispatch)
    except Exception as error:
        _write(dispatch, started, None, error)  # a row its transaction wrote rolled back with it
        raise
    # The answer of the committed transaction is the very object its row was written for; a
    # duplicate's answer (the first result, read back) or an unaudited one is written now.
    if row.committed_for is not result:
        _write(dispatch, started, result, None)
    return result


class AuditRow:
    """The audit row of a command that commits, written in its transaction (a Companion)."""

    def __init__(self, dispatch: Dispatch, started: float) -> None:
        self.dispatch, self.started = dispatch, started
        self.pending: CommandResult | None = None
        self.committed_for: CommandResult | None = None

    def statement(self, result: CommandResult) -> tuple[str, Sequence[Any]]:
        """The row's INSERT."""
        self.pending = result
        return INSERT_SQL, _values(connections[settings.EVENTLOG_DATABASE], self.dispatch, self.started, result, None)

    def written(self) -> None:
        """The row committed with the command."""
        self.committed_for = self.pending


def _values(
    connection: BaseDatabaseWrapper,
    dispatch: Dispatch,
    started: float,
    result: CommandResult | None,
    error: BaseException | None,
) -> list[Any]:
    """The row's values in COLUMNS' order, adapted for `connection` as the model's fields would."""
    command = dispatch.command
    meta = command.metadata
    target = getattr(command, "order_id", None) or getattr(command, "sku", None) or ""
    ops = connection.ops
    return [
        ops.adapt_datetimefield_value(timezone.now()),
        command.command_id,
        dispatch.command_type,
        outcome(dispatch, error),
        "" if error is None else f"{type(error).__name__}: {error}",
        meta.user or "",
        meta.source,
        str(meta.correlation_id),
        result.stream_id if result else str(target),
        result.position if result else None,
        ops.adapt_json_value(audited_payload(command, dispatch_payload(dispatch)), None),
        round((time.perf_counter() - started) * 1000, 3),
    ]


def _write(dispatch: Dispatch, started: float, result: CommandResult | None, error: BaseException | None) -> None:
    """Insert the row on its own (autocommitted, or in a savepoint of a caller's transaction)."""
    connection = connections[settings.EVENTLOG_DATABASE]
    try:
        values = _values(connection, dispatch, started, result, error)
        # In a caller's transaction, a savepoint: a failed insert spares it. Otherwise
        # autocommit: one statement, one round trip.
        inside = transaction.atomic(using=connection.alias) if connection.in_atomic_block else nullcontext()
        with inside, connection.cursor() as cursor:
            cursor.execute(INSERT_SQL, values)
    except Exception:
        logger.exception(
            "Could not record the audit of command %s (%s)", dispatch.command.command_id, dispatch.command_type
        )
