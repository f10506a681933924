"""What a command costs PostgreSQL, counted on the wire, and the statements that make it so: the
command record rides with the append, BEGIN and the read of the command's stream with the
idempotency lookup, and a committed command's audit row with its transaction's COMMIT (one
commit per command, not two)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.db import transaction
from django.utils import timezone

from audit.models import CommandAudit
from eventlog.models import CommandRecord, StoredEvent
from eventlog.records import CommandEntry, DuplicateCommand
from eventlog.store import event_store
from orders.commands import AddOrderItem, ConfirmOrder
from orders.domain import Order
from pipeline.chain import configured_middleware
from tests.factories import CreateOrderFactory
from tests.support.wire import wire
from writeside.bus import MessageBus, audited_payload, handle
from writeside.unit_of_work import DjangoUnitOfWork

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_subscribers(settings: Any) -> None:
    settings.EVENT_SUBSCRIBERS = []  # the doorbell goes to Redis, not counted here


def test_a_command_takes_three_round_trips_and_one_commit() -> None:
    create = CreateOrderFactory()
    with wire() as traced:
        handle(create)
    [created] = traced
    with wire() as traced:
        handle(AddOrderItem(order_id=create.order_id, sku="ADDED", quantity=1, unit_price=Decimal("2.50")))
    [add] = traced
    with wire() as traced:
        handle(ConfirmOrder(order_id=create.order_id))
    [confirm] = traced
    # BEGIN with the record look-up and the load, the append with the record, the audit row
    # with the COMMIT; ConfirmOrder asks once more, whether its SKUs are registered products. A
    # new order's stream is empty: whether the archive holds it came with the load.
    assert created.round_trips == 3, created.lines
    assert add.round_trips == 3, add.lines
    assert confirm.round_trips == 4, confirm.lines
    for traced_command in (created, add, confirm):
        assert traced_command.queries('"BEGIN; SELECT') == 1
        assert traced_command.queries('"BEGIN; SELECT') == traced_command.queries("; WITH snapshot AS") == 1
        assert traced_command.queries('"BEGIN"') == 0
        assert traced_command.queries("COMMIT") == 1
        assert traced_command.queries('INSERT INTO "audit_commandaudit"') == 1
    assert CommandAudit.objects.filter(outcome="committed").count() == 3


def test_a_command_record_in_the_append_statement_refuses_a_second_record_as_a_duplicate() -> None:
    store = event_store()
    entry = CommandEntry(command_id="twice", command_type="CreateOrder", fingerprint="f")
    first = CreateOrderFactory()
    with transaction.atomic():
        appended = store.append(str(first.order_id), "order", 0, [order_created(first)], command=entry)
    assert CommandRecord.objects.get(command_id="twice").result == {
        "stream_id": str(first.order_id),
        "version": 1,
        "position": appended[0].position,
    }
    second = CreateOrderFactory()
    with pytest.raises(DuplicateCommand), transaction.atomic():
        store.append(str(second.order_id), "order", 0, [order_created(second)], command=entry)
    assert StoredEvent.objects.count() == 1


def order_created(create: Any) -> Any:
    """The OrderCreated event of a CreateOrder command, as its handler would append it."""
    [created] = Order.create(create.order_id, create.customer_id, create.currency, create.items).collect_events()
    return created


def test_a_committed_commands_audit_row_rolls_back_with_its_transaction() -> None:
    """The row written in the transaction goes with it: the command that failed after its commit()
    leaves one row, its failure, and no event."""

    class FailingAtCommit(DjangoUnitOfWork):
        def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
            if exc_type is None:
                transaction.set_rollback(True)
                super().__exit__(RuntimeError, RuntimeError("commit failed"), None)
                raise RuntimeError("commit failed")
            super().__exit__(exc_type, exc, tb)

    bus = MessageBus(uow_factory=FailingAtCommit, middleware=configured_middleware("COMMAND_MIDDLEWARE"))  # type: ignore[arg-type]
    create = CreateOrderFactory(command_id=str(uuid4()))
    with pytest.raises(RuntimeError, match="commit failed"):
        bus.handle(create)
    assert StoredEvent.objects.count() == 0
    rows = list(CommandAudit.objects.filter(command_id=create.command_id).values_list("outcome", "reason"))
    assert rows == [("failed", "RuntimeError: commit failed")]


def test_a_committed_commands_audit_row_holds_every_value_of_the_command() -> None:
    """The row written with the COMMIT (its INSERT written by hand) reads back through the model
    as any row: its time, ids, answer, duration, and the payload with personal values None."""
    create = CreateOrderFactory(command_id=str(uuid4()))
    before = timezone.now()
    result = handle(create)
    row = CommandAudit.objects.get(command_id=create.command_id)
    assert before <= row.recorded_at <= timezone.now()
    assert (row.command_type, row.outcome, row.reason) == ("CreateOrder", "committed", "")
    assert (row.user, row.source) == (create.metadata.user or "", create.metadata.source)
    assert row.correlation_id == str(create.metadata.correlation_id)
    assert (row.stream_id, row.position) == (result.stream_id, result.position)
    assert row.duration_ms > 0
    assert row.payload == audited_payload(create)
    assert row.payload["customer_email"] is None
    assert row.payload["items"][0]["sku"] == create.items[0].sku


def test_a_repeated_command_is_audited_once_per_try() -> None:
    create = CreateOrderFactory(command_id=str(uuid4()))
    handle(create)
    handle(create)
    outcomes = list(
        CommandAudit.objects.filter(command_id=create.command_id).order_by("id").values_list("outcome", flat=True)
    )
    assert outcomes == ["committed", "duplicate"]
