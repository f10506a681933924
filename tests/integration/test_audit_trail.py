"""Every command tried has its audit row, or it does not happen: a row that cannot be written
fails its command, the columns hold the longest values their sources send, and a command
with text PostgreSQL cannot store is refused before it runs, its refusal recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from audit.middleware import UnrecordableCommand
from audit.models import CommandAudit
from eventlog.models import CommandRecord, StoredEvent
from integration.inbound import MAX_SOURCE, to_command
from tests.factories import CreateOrderFactory, InboundEventFactory
from tests.support.inbound import PAID, confirmed_order
from writeside.api.http import MAX_IDEMPOTENCY_KEY
from writeside.bus import handle
from writeside.commands import CommandMetadata

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_subscribers(settings: Any) -> None:
    settings.EVENT_SUBSCRIBERS = []  # no doorbells: nothing here reads a projection


@pytest.fixture
def audit_refuses_create_order() -> Iterator[None]:
    """PostgreSQL itself refuses CreateOrder's audit rows (as it would a value past a column)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE audit_commandaudit ADD CONSTRAINT test_no_create CHECK (command_type <> 'CreateOrder')"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_commandaudit DROP CONSTRAINT test_no_create")


@pytest.mark.usefixtures("audit_refuses_create_order")
def test_a_command_whose_audit_row_cannot_be_written_does_not_happen() -> None:
    create = CreateOrderFactory()
    with pytest.raises(Exception, match="test_no_create"):
        handle(create)
    assert not StoredEvent.objects.exists()
    assert not CommandRecord.objects.exists()
    # The retry (with the row writable again) is a first try, not a duplicate of a lost one.
    assert not CommandAudit.objects.exists()


def test_the_longest_command_id_an_api_key_makes_is_audited_whole() -> None:
    # "<user pk>:<key>", the pk as large as the users table's integer key goes.
    create = CreateOrderFactory(command_id=f"{2**31 - 1}:" + "k" * MAX_IDEMPOTENCY_KEY)
    result = handle(create)
    row = CommandAudit.objects.get()
    assert (row.command_id, row.outcome, row.position) == (create.command_id, "committed", result.position)


def test_a_payment_from_the_longest_source_inbound_allows_is_audited_with_its_sender() -> None:
    order_id, total = confirmed_order()
    source = "/" + "p" * (MAX_SOURCE - 1)
    data = {"order_id": str(order_id), "payment_id": "pay-1", "amount": str(total), "currency": "EUR"}
    pay = to_command(json.dumps(InboundEventFactory(type=PAID, source=source, data=data)))
    result = handle(pay)
    row = CommandAudit.objects.get(command_type="PayOrder")
    assert (row.user, row.outcome, row.position) == (f"integration:{source}", "committed", result.position)


@pytest.mark.parametrize(
    ("field", "command"),
    [
        ("user", lambda: CreateOrderFactory(metadata=CommandMetadata(user="ann\x00"))),
        ("user", lambda: CreateOrderFactory(metadata=CommandMetadata(user="integration:/pay\ud800"))),
        ("command_id", lambda: CreateOrderFactory(command_id="1:key\x00")),
        ("customer_id", lambda: CreateOrderFactory(customer_id="c\x00")),
        ("customer_email", lambda: CreateOrderFactory(customer_email="ann\udfff@example.com")),
        ("user", lambda: CreateOrderFactory(metadata=CommandMetadata(user="u" * 268))),
    ],
)
def test_a_command_the_trail_cannot_hold_is_refused_before_it_runs_and_its_refusal_recorded(
    field: str, command: Any
) -> None:
    create = command()
    with pytest.raises(UnrecordableCommand) as refused:
        handle(create)
    assert refused.value.field == field
    assert not StoredEvent.objects.exists()
    assert not CommandRecord.objects.exists()
    row = CommandAudit.objects.get()
    assert (row.command_type, row.outcome, row.stream_id) == ("CreateOrder", "refused", str(create.order_id))
    assert row.reason.startswith(f"UnrecordableCommand: {field}: ")
    stored = json.dumps([row.command_id, row.user, row.payload], ensure_ascii=False)
    assert "\\u0000" not in stored
    assert not any("\ud800" <= character <= "\udfff" for character in stored)
