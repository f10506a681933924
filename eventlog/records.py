"""Command records, shared by the event store and the command log: the record of a command is
written in the transaction of its events (on PostgreSQL in the very statement that appends them),
and a second record for the same command id is refused (DuplicateCommand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError

from eventlog.models import CommandRecord


class DuplicateCommand(Exception):
    """A concurrent transaction recorded the same command id first."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandEntry:
    """A command to record with the events it appends; its result is the append's outcome."""

    command_id: str
    command_type: str
    fingerprint: str


def append_outcome(stream_id: str, version: int, position: int) -> dict[str, Any]:
    """A command's recorded result: its stream, the version and global position it reached."""
    return {"stream_id": stream_id, "version": version, "position": position}


def insert_record(using: str, command_id: str, command_type: str, fingerprint: str, result: dict[str, Any]) -> None:
    """Store a command's result through the ORM; raises DuplicateCommand if the id is taken."""
    try:
        CommandRecord.objects.using(using).create(
            command_id=command_id, command_type=command_type, fingerprint=fingerprint, result=result
        )
    except IntegrityError as error:
        raise DuplicateCommand(command_id) from error
