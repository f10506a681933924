"""Records of handled commands, so a repeated command id returns its first result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from eventlog.models import CommandRecord
from eventlog.named import named
from eventlog.records import DuplicateCommand, insert_record

__all__ = ["CommandLog", "DuplicateCommand", "HandledCommand", "command_log"]


@dataclass(frozen=True, kw_only=True, slots=True)
class HandledCommand:
    """What was stored for a command id."""

    command_id: str
    command_type: str
    fingerprint: str
    result: dict[str, Any]


class CommandLog:
    """Reads and writes command records on the event store's database."""

    def __init__(self, using: str | None = None) -> None:
        self.using = using or settings.EVENTLOG_DATABASE

    def get(self, command_id: str) -> HandledCommand | None:
        """The record for a command id, if it was handled."""
        row = (
            CommandRecord.objects.using(self.using)
            .filter(command_id=command_id)
            .values_list("command_type", "fingerprint", "result")
            .first()
        )
        if row is None:
            return None
        return HandledCommand(command_id=command_id, command_type=row[0], fingerprint=row[1], result=row[2])

    def get_along(
        self, command_id: str, statement: tuple[str, list[Any]]
    ) -> tuple[HandledCommand | None, list[tuple[Any, ...]] | None]:
        """`get`, and the rows of `statement` if they could be read in the same round trip
        (None if not: here they never are)."""
        return self.get(command_id), None

    def record(self, command_id: str, command_type: str, fingerprint: str, result: dict[str, Any]) -> None:
        """Store a command's result; raises DuplicateCommand if the id is taken."""
        insert_record(self.using, command_id, command_type, fingerprint, result)


def command_log(using: str | None = None) -> CommandLog:
    """The command log for a database, of the class settings.COMMAND_LOG names (the PostgreSQL
    fast path on PostgreSQL): named, not imported, so this base never depends on a subclass."""
    implementation: type[CommandLog] = named(settings.COMMAND_LOG)
    return implementation(using)
