"""The audit middleware (settings.COMMAND_MIDDLEWARE): records every command the bus is given,
exactly one row per command tried, whatever its outcome; no command commits without its row.

A command that commits writes its row in its own transaction (`Dispatch.in_transaction`), after
its events and record: the row commits with them or the command fails and rolls back, and
auditing costs no commit of its own (on PostgreSQL a commit waits for the WAL to reach disk)
and no round trip of its own (the row's INSERT travels with the COMMIT,
writeside/unit_of_work.py). Any other outcome (refused, a duplicate, a conflict, a failure, or
a transaction that rolled back after its row was written) gets its row after the command ends,
on its own (in a savepoint inside a caller's transaction, the process manager's); a failure to
write that one (the database just went away) is logged and never hides or replaces the
command's own answer, which changed nothing.

So that a row can always be written, a command the trail could not hold is refused before it
runs (`UnrecordableCommand`, a 400 at the API, a dead letter inbound): text PostgreSQL cannot
store (a NUL, a lone surrogate) anywhere in it, or an id, user or source longer than its column
(each sized to what its sources allow, audit/models.py). Its refused row keeps what can be kept.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from audit.models import CommandAudit
from kernel.errors import InvalidValue
from kernel.storable import storable, unstorable_at
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


# The row's columns whose text comes from the command, and their sizes.
LIMITS = {
    field.name: field.max_length or 0
    for field in CommandAudit._meta.local_concrete_fields
    if field.name in ("command_id", "user", "source", "stream_id")
}


class UnrecordableCommand(InvalidValue):
    """A command the audit trail could not hold; refused before it runs."""


def record_command(dispatch: Dispatch, call_next: Next) -> CommandResult:
    """Run the command; its audit row goes in its transaction if it commits, after it if not."""
    started = time.perf_counter()
    try:
        refuse_unrecordable(dispatch)
    except UnrecordableCommand as refused:
        _write(dispatch, started, None, refused)
        raise
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


def refuse_unrecordable(dispatch: Dispatch) -> None:
    """Raise UnrecordableCommand if a value of the command cannot go in its audit row as it is."""
    for name, value in _texts(dispatch).items():
        if len(value) > LIMITS[name]:
            raise UnrecordableCommand(name, f"Must be at most {LIMITS[name]} characters.")
        if reason := unstorable_at(value, name):
            raise UnrecordableCommand(name, reason.split(": ", 1)[1])
    if reason := unstorable_at(dispatch_payload(dispatch), "payload"):
        where, what = reason.split(": ", 1)
        # The innermost field named, as the API's field errors name one: payload.items[0].sku -> sku.
        field = re.sub(r"\[\d+\]$", "", where.removesuffix(" (a key)").rsplit(".", 1)[-1])
        raise UnrecordableCommand(field, what)


def _texts(dispatch: Dispatch) -> dict[str, str]:
    """The row's text columns that the command's sender decides."""
    command = dispatch.command
    target = getattr(command, "order_id", None) or getattr(command, "sku", None) or ""
    meta = command.metadata
    return {"command_id": command.command_id, "user": meta.user or "", "source": meta.source, "stream_id": str(target)}


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
    texts = _texts(dispatch)
    payload = audited_payload(command, dispatch_payload(dispatch))
    if isinstance(error, UnrecordableCommand):  # what can be kept of it, cut to its columns
        texts = {name: storable(value)[: LIMITS[name]] for name, value in texts.items()}
        payload = storable(payload)
    ops = connection.ops
    return [
        ops.adapt_datetimefield_value(timezone.now()),
        texts["command_id"],
        dispatch.command_type,
        outcome(dispatch, error),
        "" if error is None else storable(f"{type(error).__name__}: {error}"),
        texts["user"],
        texts["source"],
        str(command.metadata.correlation_id),
        result.stream_id if result else texts["stream_id"],
        result.position if result else None,
        ops.adapt_json_value(payload, None),
        round((time.perf_counter() - started) * 1000, 3),
    ]


def _write(dispatch: Dispatch, started: float, result: CommandResult | None, error: BaseException | None) -> None:
    """Insert the row on its own (autocommitted, or in a savepoint of a caller's transaction)."""
    connection = connections[settings.EVENTLOG_DATABASE]
    try:
        values = _values(connection, dispatch, started, result, error)
        # In a caller's transaction, a savepoint: a failed insert spares it (the command's own
        # error is what it sees). Otherwise autocommit: one statement, one round trip.
        inside = transaction.atomic(using=connection.alias) if connection.in_atomic_block else nullcontext()
        with inside, connection.cursor() as cursor:
            cursor.execute(INSERT_SQL, values)
    except Exception:
        logger.exception(
            "Could not record the audit of command %s (%s)", dispatch.command.command_id, dispatch.command_type
        )
