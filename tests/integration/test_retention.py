"""Retention on real PostgreSQL: each policy prunes exactly what is past its day and nothing
else (the event log never), says what it pruned, and a retry after expiry is a new command.
The pairs with what acts on the same rows at the same moment: test_retention_races.py."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db import connections, transaction
from django.db.utils import Error as DatabaseError
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from audit.models import CommandAudit
from eventlog.models import CommandRecord, StoredEvent
from inventory.events import product_stream
from notifications.models import Notification
from orders.commands import ConfirmOrder, CreateOrder, LineItem
from projector.loop import all_partitions
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.running import run_partition
from retention.policies import prune
from tests.factories import DeadLetterFactory, NotificationFactory, RegisterProductFactory
from tests.support.expiry import DAY, MINUTE, backdate_records, log_rows, receive
from tests.support.grants import documented_grants
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inline(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True


def test_command_records_expire_at_their_day_and_a_retry_after_is_a_new_command(settings: Any) -> None:
    settings.IDEMPOTENCY_RETENTION_DAYS = 30
    handle(RegisterProductFactory(sku="RET"))
    for name in ("expired", "kept", "fresh"):
        receive("RET", 1, command_id=name)
    backdate_records({"expired": 30 * DAY + MINUTE, "kept": 30 * DAY - MINUTE})
    log, audits = log_rows(), CommandAudit.objects.count()

    assert prune(["command-records"]) == {"command-records": 1}
    assert set(CommandRecord.objects.values_list("command_id", flat=True)) >= {"kept", "fresh"}
    assert not CommandRecord.objects.filter(command_id="expired").exists()
    assert log_rows() == log  # the log is never touched
    assert CommandAudit.objects.count() == audits
    assert prune(["command-records"]) == {"command-records": 0}  # nothing more: idempotent

    # Within the window a retry is answered from the record; after it, it is a new command.
    receive("RET", 1, command_id="kept")
    receive("RET", 1, command_id="expired")
    received = StoredEvent.objects.filter(stream_id=product_stream("RET"), event_type="StockReceived").count()
    assert received == 4


def test_an_api_retry_after_its_key_expired_is_a_new_command(settings: Any) -> None:
    settings.IDEMPOTENCY_RETENTION_DAYS = 30
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    body = {"customer_id": "c-42", "currency": "EUR", "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "9.99"}]}

    def create() -> str:
        response = client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert response.status_code in (200, 201), response.content
        return str(response.json()["order_id"])

    first = create()
    assert create() == first  # within the window: the first answer, nothing new
    (command_id,) = CommandRecord.objects.filter(command_type="CreateOrder").values_list("command_id", flat=True)
    backdate_records({command_id: 30 * DAY + MINUTE})
    assert prune(["command-records"]) == {"command-records": 1}
    second = create()  # after it: a new command, a second order
    assert second != first
    assert StoredEvent.objects.filter(event_type="OrderCreated").count() == 2


def test_no_record_younger_than_a_day_can_be_removed_whatever_is_asked() -> None:
    handle(RegisterProductFactory(sku="FLOOR"))
    receive("FLOOR", 1, command_id="young")
    backdate_records({"young": 23 * DAY / 24})
    # The policy run as if 100 days had passed: its cutoff is past the record, the day is not.
    assert prune(["command-records"], now=timezone.now() + 100 * DAY) == {"command-records": 0}
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT eventlog_expire_command_records(now() + interval '1 year', 1000)")
        assert cursor.fetchone() == (0,)
    assert CommandRecord.objects.filter(command_id="young").exists()
    # Nor by hand, even with the function's own setting; and no record ever changes.
    for statement in (
        "SELECT set_config('eventlog.expiring_command_records', 'on', true);"
        " DELETE FROM eventlog_commandrecord WHERE command_id = 'young'",
        "UPDATE eventlog_commandrecord SET result = '{}' WHERE command_id = 'young'",
        "TRUNCATE eventlog_commandrecord",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connections["default"].cursor() as cursor,
        ):
            cursor.execute(statement)
    assert CommandRecord.objects.filter(command_id="young").exists()


def test_the_documented_app_role_expires_records_only_through_the_policy() -> None:
    handle(RegisterProductFactory(sku="ROLE"))
    for name in ("role-old", "role-new"):
        receive("ROLE", 1, command_id=name)
    backdate_records({"role-old": 31 * DAY})
    role = f"test_app_{uuid4().hex[:12]}"  # created in the test's transaction, gone with it
    with transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(documented_grants().replace("backoffice_app", role))
        cursor.execute(f"SET LOCAL ROLE {role}")
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            cursor.execute("DELETE FROM eventlog_commandrecord WHERE command_id = 'role-old'")
        assert prune(["command-records", "audit"], now=timezone.now() + 400 * DAY) == {
            "command-records": 1,
            "audit": 0,  # AUDIT_RETENTION_DAYS=0
        }
        cursor.execute("SELECT command_id FROM eventlog_commandrecord WHERE command_id LIKE 'role-%%'")
        assert cursor.fetchall() == [("role-new",)]
        transaction.set_rollback(True)


def test_audit_rows_are_kept_forever_by_default_and_pruned_past_their_day_when_set(settings: Any) -> None:
    handle(RegisterProductFactory(sku="AUD"))
    for name in ("old", "almost", "new"):
        receive("AUD", 1, command_id=name)
    backdate_records({"old": 400 * DAY + MINUTE, "almost": 400 * DAY - MINUTE})
    assert prune(["audit"]) == {"audit": 0}  # AUDIT_RETENTION_DAYS=0: kept
    settings.AUDIT_RETENTION_DAYS = 400
    assert prune(["audit"]) == {"audit": 1}
    assert not CommandAudit.objects.filter(command_id="old").exists()
    assert CommandAudit.objects.filter(command_id="almost").exists()
    assert CommandAudit.objects.filter(command_id="new").exists()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connections["default"].cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_commandaudit SET reason = 'x'")


def test_only_resolved_dead_letters_past_their_day_are_removed(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.DEAD_LETTER_RETENTION_DAYS = 30
    letters = {
        (status, age): DeadLetterFactory(status=status).pk
        for status in DeadLetter.Status.values
        for age in (30 * DAY + MINUTE, 30 * DAY - MINUTE)
    }
    for (_status, age), pk in letters.items():
        DeadLetter.objects.filter(pk=pk).update(last_failed_at=timezone.now() - age)

    counted = REGISTRY.get_sample_value("backoffice_retention_pruned_total", {"policy": "dead-letters"}) or 0.0
    with caplog.at_level(logging.INFO, logger="retention.policies"):
        assert prune(["dead-letters"], batch_size=1) == {"dead-letters": 1}
    gone = {key for key, pk in letters.items() if not DeadLetter.objects.filter(pk=pk).exists()}
    assert gone == {(DeadLetter.Status.RESOLVED, 30 * DAY + MINUTE)}
    # Said on /metrics and in the log.
    assert REGISTRY.get_sample_value("backoffice_retention_pruned_total", {"policy": "dead-letters"}) == counted + 1
    assert "Retention dead-letters: 1 resolved dead letters removed (older than 30 days" in caplog.text


def test_finished_emails_lose_their_personal_data_past_their_day_and_keep_their_row(settings: Any) -> None:
    settings.NOTIFICATION_PAYLOAD_RETENTION_DAYS = 30
    now = timezone.now()
    rows = {
        (status, age): NotificationFactory(status=status, occurred_at=now - age, last_error="to ada@example.com").pk
        for status in Notification.Status.values
        for age in (30 * DAY + MINUTE, 30 * DAY - MINUTE)
    }
    assert prune(["notifications"], batch_size=1) == {"notifications": 2}
    blanked = {
        key
        for key, pk in rows.items()
        if Notification.objects.filter(pk=pk, recipient="", subject="", last_error="").exists()
    }
    assert blanked == {(Notification.Status.SENT, 30 * DAY + MINUTE), (Notification.Status.FAILED, 30 * DAY + MINUTE)}
    assert Notification.objects.count() == len(rows)
    assert Notification.objects.filter(status=Notification.Status.SENT).count() == 2


@pytest.mark.usefixtures("inline")
def test_an_email_whose_payload_was_pruned_is_never_owed_again(settings: Any) -> None:
    order_id = uuid4()
    items = (LineItem(sku="SKU-1", quantity=1, unit_price=Decimal("5.00")),)
    handle(CreateOrder(order_id=order_id, customer_id="c-1", currency="EUR", items=items, customer_email="a@b.example"))
    handle(ConfirmOrder(order_id=order_id))
    assert len(mail.outbox) == 1
    Notification.objects.update(occurred_at=timezone.now() - 31 * DAY)
    assert prune(["notifications"]) == {"notifications": 1}
    # A replay of the notifications projection (checkpoint moved back) owes nothing again.
    ProjectionCheckpoint.objects.filter(projection="notifications").update(position=0)
    for partition in all_partitions():
        run_partition(partition)
    assert len(mail.outbox) == 1
    assert list(Notification.objects.values_list("status", "recipient")) == [("sent", "")]


def test_prune_command_names_each_policy_and_refuses_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("prune")
    printed = capsys.readouterr().out
    assert "command-records" in printed
    assert "kept forever (AUDIT_RETENTION_DAYS=0)" in printed
    with pytest.raises(Exception, match="No retention policy nope"):
        call_command("prune", "nope")
