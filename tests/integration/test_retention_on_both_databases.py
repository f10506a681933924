"""Retention on both databases, the embedded default (SQLite) included: every policy runs,
command records expire past their day and never under a day, and the log is untouched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import Error as DatabaseError
from django.utils import timezone

from eventlog.append_only import maintenance_window
from eventlog.models import CommandRecord, StoredEvent
from retention.policies import POLICIES, prune
from tests.factories import DeadLetterFactory, NotificationFactory, ReceiveStockFactory, RegisterProductFactory
from tests.support.read_side import ON_BOTH_DATABASES
from writeside.bus import handle

pytestmark = pytest.mark.django_db(transaction=True)


@ON_BOTH_DATABASES
def test_every_policy_prunes_past_its_day_and_no_record_goes_within_a_day(vendor: str) -> None:
    assert connection.vendor == vendor
    handle(RegisterProductFactory(sku="BOTH"))
    for name in ("old", "young"):
        handle(ReceiveStockFactory(sku="BOTH", quantity=1, command_id=name))
    with maintenance_window(settings.EVENTLOG_DATABASE):
        CommandRecord.objects.filter(command_id="old").update(recorded_at=timezone.now() - timedelta(days=31))
    DeadLetterFactory()
    NotificationFactory(occurred_at=timezone.now() - timedelta(days=31))
    log = list(StoredEvent.objects.values_list("position", "event_id"))

    pruned = prune(now=timezone.now() + timedelta(days=100))  # past every day but the database's floor
    assert pruned == {"command-records": 1, "audit": 0, "dead-letters": 1, "notifications": 1}
    assert set(POLICIES) == set(pruned)
    assert list(CommandRecord.objects.filter(command_id__in=["old", "young"]).values_list("command_id", flat=True)) == [
        "young"
    ]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CommandRecord.objects.filter(command_id="young").delete()
    assert list(StoredEvent.objects.values_list("position", "event_id")) == log
