"""Retention on real PostgreSQL: each policy prunes exactly what is past its day and nothing
else (the event log never), and holds up against what acts on the same rows at the same
moment: a retry of an expiring command, a process manager's replay, a dead letter re-opened."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models.query import QuerySet
from django.db.utils import Error as DatabaseError
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from audit.models import CommandAudit
from eventlog.append_only import maintenance_window
from eventlog.models import CommandRecord, StoredEvent
from eventlog.store import EventStore, RecordedEvent
from fulfilment.models import FulfilmentProcess
from inventory.commands import ReceiveStock
from inventory.domain import product_stream
from notifications.models import Notification
from orders.commands import CancelOrder, ConfirmOrder, CreateOrder, LineItem, PayOrder, ShipOrder
from projector.dead_letters import hold, record_failure
from projector.loop import all_partitions, read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.running import run_partition
from projector.status import applied_through
from readmodels.models import ProductStock
from retention.policies import prune
from tests.factories import DeadLetterFactory, NotificationFactory, ReceiveStockFactory, RegisterProductFactory
from tests.integration.test_append_only import documented_grants
from writeside.bus import handle
from writeside.unit_of_work import CommandResult

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def inline(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True


def backdate_records(ages: dict[str, timedelta]) -> None:
    """Make command records (and their commands' audit rows) as old as given, through the
    suite's maintenance window: the database refuses any other change of them."""
    now = timezone.now()
    with maintenance_window(django_settings.EVENTLOG_DATABASE):
        for command_id, age in ages.items():
            CommandRecord.objects.filter(command_id=command_id).update(recorded_at=now - age)
            CommandAudit.objects.filter(command_id=command_id).update(recorded_at=now - age)


def backdate_all_records(age: timedelta) -> None:
    with maintenance_window(django_settings.EVENTLOG_DATABASE):
        CommandRecord.objects.update(recorded_at=timezone.now() - age)


def receive(sku: str, quantity: int, command_id: str | None = None) -> CommandResult:
    return handle(ReceiveStockFactory(sku=sku, quantity=quantity, **({"command_id": command_id} if command_id else {})))


def log_rows() -> list[tuple[int, str]]:
    return list(StoredEvent.objects.order_by("position").values_list("position", "event_type"))


# --- Each policy at its boundary day ------------------------------------------------------------


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


# --- The pairs ----------------------------------------------------------------------------------


def test_a_retry_racing_its_records_expiry_is_answered_once_or_run_once_never_twice() -> None:
    handle(RegisterProductFactory(sku="RACE"))
    rounds, retries = 6, 4
    commands = [f"race-{round_}" for round_ in range(rounds)]
    for command_id in commands:
        receive("RACE", 1, command_id=command_id)
    errors: list[BaseException] = []

    def alone(work: Callable[[], object], barrier: threading.Barrier) -> threading.Thread:
        def run() -> None:
            try:
                barrier.wait()
                work()
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    for command_id in commands:
        backdate_records({command_id: 31 * DAY})
        barrier = threading.Barrier(retries + 1)
        threads = [alone(partial(receive, "RACE", 1, command_id), barrier) for _ in range(retries)]
        threads.append(alone(lambda: prune(["command-records"], batch_size=1), barrier))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    runs = dict.fromkeys(commands, 0)
    received = StoredEvent.objects.filter(stream_id=product_stream("RACE"), event_type="StockReceived")
    for command_id in received.values_list("metadata__command_id", flat=True):
        if command_id in runs:
            runs[command_id] += 1
    # However many retries raced the expiry, each command ran once, and at most once more (a
    # retry that came after its record expired is a new command): then its new record stands;
    # otherwise every retry was answered from the old record, which then expired.
    for command_id, count in runs.items():
        assert count in (1, 2), runs
        assert CommandRecord.objects.filter(command_id=command_id).count() == count - 1, runs


def stock(sku: str, on_hand: int) -> None:
    handle(RegisterProductFactory(sku=sku))
    handle(ReceiveStock(sku=sku, quantity=on_hand))


def order(*lines: tuple[str, int]) -> UUID:
    create = CreateOrder(
        customer_id="c-1",
        currency="EUR",
        items=tuple(LineItem(sku=sku, quantity=quantity, unit_price=Decimal("5.00")) for sku, quantity in lines),
    )
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id))
    return create.order_id


def world() -> tuple[list[tuple[int, str]], list[tuple[str, str, dict[str, str]]], list[tuple[str, int, int]]]:
    """The log, the process manager's state and the products' stock."""
    processes = sorted((str(p.order_id), p.status, p.lines) for p in FulfilmentProcess.objects.all())
    products = sorted(ProductStock.objects.values_list("sku", "on_hand", "reserved"))
    return log_rows(), processes, products


def replay_fulfilment() -> None:
    ProjectionCheckpoint.objects.filter(projection="fulfilment").update(position=0)
    while any(run_partition(partition) for partition in all_partitions()):
        pass
    assert applied_through(EventStore().head_position())


@pytest.mark.usefixtures("inline")
def test_a_process_manager_replay_after_its_command_records_expired_sends_nothing_twice() -> None:
    stock("A", 4)
    stock("B", 2)
    reserved = order(("A", 1), ("B", 1))
    out_of_stock = order(("A", 1), ("B", 5))
    cancelled = order(("A", 2))
    handle(CancelOrder(order_id=cancelled, reason="changed my mind"))
    paid = order(("A", 1))
    handle(PayOrder(order_id=paid, payment_id="p-1", amount=Decimal("5.00")))
    handle(ShipOrder(order_id=paid, tracking_number="T-1", carrier="DHL"))
    before = world()
    assert [status for _, status, _ in before[1]].count("RESERVED") == 2
    assert {str(reserved), str(out_of_stock)} <= {order_id for order_id, _, _ in before[1]}
    backdate_all_records(31 * DAY)

    # The pair: the replay runs while the records of the commands it re-derives expire.
    expiring = threading.Thread(target=elsewhere, args=(partial(prune, ["command-records"], batch_size=3),))
    expiring.start()
    replay_fulfilment()
    expiring.join(timeout=60)
    prune(["command-records"])
    assert not CommandRecord.objects.filter(
        command_id__startswith="fulfilment:", recorded_at__lt=timezone.now() - DAY
    ).exists()
    # And again with every record of the first run gone: the process's own state and the
    # aggregates' rules make each re-sent command change nothing.
    backdate_all_records(31 * DAY)
    prune(["command-records"])
    assert not CommandRecord.objects.filter(command_id__startswith="fulfilment:").exists()
    replay_fulfilment()
    assert world() == before
    # It did send its commands again (recorded anew), and none of them changed anything.
    assert CommandRecord.objects.filter(command_id__startswith="fulfilment:").exists()


def events_of(stream_id: str) -> list[RecordedEvent]:
    return EventStore().read_stream(stream_id)


@pytest.fixture
def resolved_letter(settings: Any) -> tuple[RecordedEvent, int]:
    """An order's event with an old letter, resolved by a retry 31 days ago."""
    settings.DEAD_LETTER_RETENTION_DAYS = 30
    create = CreateOrder(
        customer_id="c-1", currency="EUR", items=(LineItem(sku="X", quantity=1, unit_price=Decimal(1)),)
    )
    handle(create)
    event = events_of(str(create.order_id))[0]
    letter = DeadLetterFactory(
        projection="orders",
        position=event.position,
        event_id=event.event_id,
        event_type=event.event_type,
        stream_id=event.stream_id,
    )
    DeadLetter.objects.filter(pk=letter.pk).update(last_failed_at=timezone.now() - 31 * DAY)
    return event, letter.pk


def elsewhere(work: Callable[[], Any]) -> Any:
    """`work`'s result, run on a connection of its own (another thread's)."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(work())
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)
    return results[0]


def pruning_between(method: str) -> Callable[[], None]:
    """Run the dead-letter policy on another connection right after the next `method` of a
    queryset (the moment between hold's two statements), and wait for it to commit."""
    original = getattr(QuerySet, method)
    done = threading.Event()

    def patched(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if self.model is DeadLetter and not done.is_set():
            done.set()
            elsewhere(lambda: prune(["dead-letters"]))
        return result

    setattr(QuerySet, method, patched)
    return lambda: setattr(QuerySet, method, original)


@pytest.mark.parametrize("method", ["update", "bulk_create"])
def test_a_resolved_letter_held_again_by_a_replay_is_never_pruned_from_under_it(
    resolved_letter: tuple[RecordedEvent, int], method: str
) -> None:
    event, _pk = resolved_letter
    using = read_database()
    restore = pruning_between(method)
    try:
        with transaction.atomic(using=using):
            hold("orders", [event], using)
    finally:
        restore()
    # Whichever statement the prune came between, the event is held behind a letter.
    assert list(DeadLetter.objects.filter(position=event.position).values_list("status", flat=True)) == ["held"]


def test_a_resolved_letter_failing_again_while_pruned_is_written_anew(
    resolved_letter: tuple[RecordedEvent, int],
) -> None:
    event, pk = resolved_letter
    using = read_database()
    letter = DeadLetter.objects.get(pk=pk)  # what a replay read before the prune removed it
    assert prune(["dead-letters"]) == {"dead-letters": 1}
    letter.attempts = 0
    record_failure("orders", event, ValueError("again"), using, letter)
    assert list(DeadLetter.objects.filter(position=event.position).values_list("status", "attempts")) == [
        ("retrying", 1)
    ]


def test_a_letter_resolved_while_the_policy_runs_is_kept(resolved_letter: tuple[RecordedEvent, int]) -> None:
    event, pk = resolved_letter
    using = read_database()
    # A parked letter being retried holds its row; the policy skips it, and once resolved it
    # is fresh (its resolution moved last_failed_at).
    DeadLetter.objects.filter(pk=pk).update(status=DeadLetter.Status.PARKED)
    with transaction.atomic(using=using):
        letter = DeadLetter.objects.select_for_update().get(pk=pk)
        assert elsewhere(lambda: prune(["dead-letters"])) == {"dead-letters": 0}
        letter.status = DeadLetter.Status.RESOLVED
        letter.save(update_fields=["status", "last_failed_at"])
    assert prune(["dead-letters"]) == {"dead-letters": 0}
    assert DeadLetter.objects.get(pk=pk).status == "resolved"
    assert event.position == DeadLetter.objects.get(pk=pk).position
