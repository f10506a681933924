"""Personal data at rest, on PostgreSQL and on the embedded SQLite: what the write side
stores is sealed, data stored before sealing existed is sealed by the migration, and
forgetting leaves no table holding the customer's data in the clear (the PostgreSQL
pg_dump test is tests/e2e/test_api_forget.py)."""

from __future__ import annotations

import hashlib
import importlib
import json
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from django.apps import apps
from django.db import connection

from audit.models import CommandAudit
from eventlog.models import CommandRecord, Snapshot, StoredEvent, SubjectKey
from eventlog.store import event_store
from orders.addresses import Address
from orders.commands import ChangeShippingAddress, ConfirmOrder, CreateOrder, ForgetCustomer, LineItem
from orders.events import OrderCreated
from orders.repository import ORDER_STATE_VERSION
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderDetail, OrderSummary
from tests.support.read_side import ON_BOTH_DATABASES
from writeside.bus import handle, payload

pytestmark = pytest.mark.django_db(transaction=True)
sealing = importlib.import_module("orders.migrations.0003_seal_personal_data")


def secret(kind: str) -> str:
    return f"{kind}{secrets.token_hex(8)}"


def address() -> Address:
    return Address(
        name=secret("name"), line1=secret("street"), line2=secret("floor"), postal_code="1", city="Ulm", country="DE"
    )


def stored_text() -> str:
    """Every write-side table that could hold personal data, as text."""
    rows = [
        *StoredEvent.objects.values_list("data", flat=True),
        *Snapshot.objects.values_list("state", flat=True),
        *CommandRecord.objects.values_list("fingerprint", "result"),
        *CommandAudit.objects.values_list("payload", "reason"),
    ]
    return json.dumps(rows, default=str)


def personal(order: CreateOrder, *more: Address) -> set[str]:
    assert order.shipping_address is not None
    addresses = [order.shipping_address, *more]
    return {order.customer_email} | {
        str(getattr(place, field)) for place in addresses for field in ("name", "line1", "line2")
    }


@ON_BOTH_DATABASES
def test_the_write_side_stores_personal_data_only_sealed_and_forgetting_erases_it(vendor: str, settings: Any) -> None:
    assert connection.vendor == vendor
    settings.SNAPSHOT_EVERY = 2
    settings.PROJECTIONS_INLINE = True
    create = CreateOrder(
        customer_id="c-rest",
        currency="EUR",
        items=(LineItem(sku="A", quantity=1, unit_price=Decimal("5.00")),),
        customer_email=f"{secret('mail')}@example.org",
        shipping_address=address(),
    )
    moved = address()
    handle(create)
    handle(ChangeShippingAddress(order_id=create.order_id, shipping_address=moved))
    handle(ConfirmOrder(order_id=create.order_id))
    assert Snapshot.objects.exists()
    snapshot, _ = event_store().load_stream(str(create.order_id), ORDER_STATE_VERSION)
    assert snapshot is not None
    assert (snapshot.state["customer_email"], snapshot.state["shipping_address"]["name"]) == (
        create.customer_email,
        moved.name,
    )
    texts = personal(create, moved)
    assert {text for text in texts if text in stored_text()} == set()
    # Readable while the key exists: the read model has them.
    detail = OrderDetail.objects.get(order_id=create.order_id)
    assert detail.customer_email == create.customer_email
    assert detail.shipping_address is not None
    assert detail.shipping_address["name"] == moved.name

    handle(ForgetCustomer(customer_id="c-rest"))
    assert not SubjectKey.objects.filter(subject="c-rest").exists()
    snapshot, _ = event_store().load_stream(str(create.order_id), ORDER_STATE_VERSION)
    assert snapshot is not None
    assert (snapshot.state["customer_email"], snapshot.state["shipping_address"]["line1"]) == (None, None)
    read_side = json.dumps([list(OrderDetail.objects.values()), list(OrderSummary.objects.values())], default=str)
    assert {text for text in texts if text in read_side} == set()
    live = list(OrderDetail.objects.values())
    rebuild_by_name(["orders"])
    assert list(OrderDetail.objects.values()) == live
    (loaded,) = [e.event for e in event_store().read_stream(str(create.order_id), to_version=1)]
    assert isinstance(loaded, OrderCreated)
    assert loaded.customer_email is None
    assert loaded.shipping_address is not None
    assert loaded.shipping_address.name is None


def insert_plain(
    order_id: str, customer_id: str, email: str, home: dict[str, str], moved: dict[str, str]
) -> CreateOrder:
    """Rows as the release before sealing wrote them (INSERT is all the append-only log allows)."""
    now = datetime.now(UTC)
    created = {
        "order_id": order_id,
        "customer_id": customer_id,
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "5.00"}],
        "customer_email": email,
        "shipping_address": home,
        "billing_address": home,
        "payment_method": None,
    }
    common = {"stream_id": order_id, "stream_type": "order", "bucket": 0, "recorded_at": now, "metadata": {}}
    StoredEvent.objects.create(event_type="OrderCreated", schema_version=2, version=1, data=created, **common)
    StoredEvent.objects.create(
        event_type="ShippingAddressChanged",
        version=2,
        data={"order_id": order_id, "shipping_address": moved},
        **common,
    )
    state = {**created, "status": "PENDING", "shipping_address": moved}
    Snapshot.objects.create(stream_id=order_id, stream_type="order", version=2, state_version=3, state=state)
    command = CreateOrder(
        command_id="plain-1",
        order_id=uuid4(),
        customer_id=customer_id,
        currency="EUR",
        items=(LineItem(sku="A", quantity=1, unit_price=Decimal("5.00")),),
        customer_email=email,
        shipping_address=Address(**home),
    )
    plain = hashlib.sha256(json.dumps(["CreateOrder", payload(command)], sort_keys=True).encode()).hexdigest()
    CommandRecord.objects.create(
        command_id="plain-1",
        command_type="CreateOrder",
        fingerprint=plain,
        result={"stream_id": order_id, "version": 1, "position": 1},
    )
    CommandAudit.objects.create(
        recorded_at=now,
        command_id="plain-1",
        command_type="CreateOrder",
        outcome="committed",
        payload=payload(command),
        duration_ms=1.0,
    )
    return command


@ON_BOTH_DATABASES
def test_the_migration_seals_what_was_stored_in_the_clear(vendor: str) -> None:
    assert connection.vendor == vendor
    order_id, email = str(uuid4()), f"{secret('mail')}@example.org"
    home = {
        "name": secret("name"),
        "line1": secret("street"),
        "line2": "",
        "postal_code": "1",
        "city": "Ulm",
        "country": "DE",
    }
    moved = {**home, "name": secret("name"), "line1": secret("street")}
    command = insert_plain(order_id, "c-old", email, home, moved)
    texts = {email, home["name"], home["line1"], moved["name"], moved["line1"]}
    assert texts <= {text for text in texts if text in stored_text()}

    with connection.schema_editor() as editor:
        sealing.seal_personal_data(apps, editor)
        sealing.seal_personal_data(apps, editor)  # idempotent: sealed rows are left alone

    assert {text for text in texts if text in stored_text()} == set()
    snapshot = event_store().latest_snapshot(order_id)
    events = event_store().read_stream(order_id)
    assert snapshot is not None
    assert snapshot.state["shipping_address"]["name"] == moved["name"]
    assert [e.event.customer_id for e in events] == ["c-old", "c-old"]
    assert events[0].event.customer_email == email
    assert events[1].event.shipping_address.line1 == moved["line1"]
    # The record's fingerprint was recomputed, keyed: a retry is still answered from it.
    assert handle(command).stream_id == order_id

    handle(ForgetCustomer(customer_id="c-old"))
    snapshot = event_store().latest_snapshot(order_id)
    events = event_store().read_stream(order_id)
    assert snapshot is not None
    assert snapshot.state["shipping_address"]["name"] is None
    assert (events[0].event.customer_email, events[1].event.shipping_address.name) == (None, None)
