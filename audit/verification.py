"""The audit check: every committed command has its audit row.

The guarantee it checks (audit/middleware.py): a command that commits writes its audit row
(outcome `committed`) in its own transaction, with its events and its command record
(eventlog.models.CommandRecord, which only a committed command leaves). So a command record
with no committed audit row of the same command id is a command whose audit was lost. Both
tables are on the event log's database and written in one transaction: no lag to wait for.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef

from audit.models import CommandAudit
from eventlog.models import CommandRecord
from projector.verification import Divergence, Options

CHECK = "audit"


def unaudited_commands(options: Options) -> list[Divergence]:
    """The committed commands (their records) that have no committed audit row."""
    using = settings.EVENTLOG_DATABASE
    audited = CommandAudit.objects.using(using).filter(
        command_id=OuterRef("command_id"), outcome=CommandAudit.Outcome.COMMITTED
    )
    missing = (
        CommandRecord.objects.using(using)
        .filter(~Exists(audited))
        .order_by("id")
        .values_list("command_id", "command_type", "recorded_at", "result")
    )
    return [
        Divergence(
            CHECK,
            f"command {command_id}",
            f"{command_type} committed at {recorded_at:%Y-%m-%d %H:%M:%S} (stream {result.get('stream_id')},"
            f" position {result.get('position')}) has no audit row",
        )
        for command_id, command_type, recorded_at, result in missing
    ]
