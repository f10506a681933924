"""A unit of work with no idempotency record, for the `record` switch of bench/guarantees.py
only: what the record costs is the difference it makes. It keeps no promise of the product's
(a repeated command id runs again), so nothing but a benchmark's settings installs it."""

from __future__ import annotations

from typing import Any

from eventlog.idempotency import HandledCommand
from eventlog.recorded import RecordedEvent
from writeside.aggregate import Aggregate
from writeside.unit_of_work import CommandContext, CommandResult, DjangoUnitOfWork


class UnrecordedUnitOfWork(DjangoUnitOfWork):
    """The Django unit of work without the record's look-up and write (the stream is read by
    the handler's load instead of along with the look-up)."""

    def handled(self, command_id: str) -> HandledCommand | None:
        """No look-up: every command is taken as new."""
        return None

    def _save_recorded(self, aggregate: Aggregate[Any, Any], context: CommandContext | None) -> list[RecordedEvent]:
        """The append alone, no record with it."""
        return self._save(aggregate, context.metadata if context else {})

    def _record(self, context: CommandContext, result: CommandResult) -> None:
        """No record for an unchanged aggregate either."""
        return None
