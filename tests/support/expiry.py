"""Helpers of the retention tests: command records made as old as a test needs (through the
suite's maintenance window, the one way past the database's refusal), and what to compare."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from audit.models import CommandAudit
from eventlog.append_only import maintenance_window
from eventlog.models import CommandRecord, StoredEvent
from tests.factories import ReceiveStockFactory
from writeside.bus import handle
from writeside.unit_of_work import CommandResult

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def backdate_records(ages: dict[str, timedelta]) -> None:
    """Make command records (and their commands' audit rows) as old as given, through the
    suite's maintenance window: the database refuses any other change of them."""
    now = timezone.now()
    with maintenance_window(settings.EVENTLOG_DATABASE):
        for command_id, age in ages.items():
            CommandRecord.objects.filter(command_id=command_id).update(recorded_at=now - age)
            CommandAudit.objects.filter(command_id=command_id).update(recorded_at=now - age)


def backdate_all_records(age: timedelta) -> None:
    with maintenance_window(settings.EVENTLOG_DATABASE):
        CommandRecord.objects.update(recorded_at=timezone.now() - age)


def receive(sku: str, quantity: int, command_id: str | None = None) -> CommandResult:
    return handle(ReceiveStockFactory(sku=sku, quantity=quantity, **({"command_id": command_id} if command_id else {})))


def log_rows() -> list[tuple[int, str]]:
    return list(StoredEvent.objects.order_by("position").values_list("position", "event_type"))
