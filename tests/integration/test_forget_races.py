"""Forgetting racing the projections, reproduced step by step on PostgreSQL (and, with
READ_DATABASE_URL, with the read models in a second database): a batch of an order's
partition that decoded the order while its customer's key existed and commits after the
CustomerForgotten was applied (in the customer's partition) leaves no plain personal data,
in the order's rows or the customer directory; a customer who orders again keeps the new
order's data; and a batch that is writing when the forgetting is applied makes it wait."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.db import connections, transaction

from eventlog.store import RecordedEvent, event_store
from notifications.models import CustomerDirectory
from notifications.projection import NotificationsProjection
from orders.addresses import Address
from orders.commands import ChangeShippingAddress, CreateOrder, ForgetCustomer, LineItem
from orders.customers import customer_stream_id
from projector.loop import read_database
from projector.projection import Projection
from readmodels.models import OrderDetail, OrderSummary
from readmodels.projections.orders import OrdersProjection
from tests.integration.conftest import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

CUSTOMER = "c-race"
EMAIL = "race-7q2v@example.org"
NAME = "Quorra Vantablack"


@pytest.fixture(autouse=True)
def by_hand(settings: Any) -> None:
    """Nothing projects unless the test applies it: each batch is a step of the race."""
    settings.PROJECTIONS_INLINE = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.DOORBELL_COALESCING = False


def place(customer: str = CUSTOMER, email: str = EMAIL, name: str = NAME) -> UUID:
    order_id = uuid4()
    address = Address(name=name, line1="Hidden Lane 3", postal_code="10115", city="Berlin", country="DE")
    handle(
        CreateOrder(
            order_id=order_id,
            customer_id=customer,
            currency="EUR",
            items=(LineItem(sku="SKU-1", quantity=1, unit_price=Decimal("9.99")),),
            customer_email=email,
            shipping_address=address,
        )
    )
    return order_id


def decoded(stream_id: str) -> list[RecordedEvent]:
    """A batch as a projector reads it now: unsealed with the keys that exist now."""
    return event_store().read_stream(stream_id)


def apply(events: Sequence[RecordedEvent], *projections: Projection) -> None:
    """One projector batch: the projections' work in one read-side transaction."""
    using = read_database()
    with transaction.atomic(using=using):
        for projection in projections or (OrdersProjection(), NotificationsProjection()):
            projection.apply(events, using)


def forget(customer: str = CUSTOMER) -> list[RecordedEvent]:
    handle(ForgetCustomer(customer_id=customer))
    return decoded(customer_stream_id(customer))[-1:]


def detail(order_id: UUID) -> dict[str, Any]:
    row: dict[str, Any] = OrderDetail.objects.using(read_database()).values().get(order_id=order_id)
    return row


def assert_erased(order_id: UUID) -> None:
    row = detail(order_id)
    # An erased e-mail folds to "" (as an order placed without one), an erased name to None.
    assert (row["customer_email"], row["shipping_address"]["name"], row["shipping_address"]["line1"]) == (
        "",
        None,
        None,
    )
    assert row["shipping_address"]["city"] == "Berlin"
    summary = OrderSummary.objects.using(read_database()).get(order_id=order_id)
    assert EMAIL not in summary.search_text
    assert NAME.lower() not in summary.search_text
    assert not CustomerDirectory.objects.using(read_database()).filter(customer_id=CUSTOMER).exists()


def test_a_batch_decoded_before_the_forgetting_and_applied_after_it_writes_nulls() -> None:
    order = place()
    stale = decoded(str(order))
    assert stale[0].event.customer_email == EMAIL  # decoded while the key existed

    apply(forget())
    apply(stale)

    assert_erased(order)
    assert detail(order)["version"] == 1


def test_an_order_projected_before_and_moved_by_a_stale_batch_after_the_forgetting_is_erased() -> None:
    order = place()
    apply(decoded(str(order)))
    assert detail(order)["customer_email"] == EMAIL
    moved = Address(name="Other " + NAME, line1="Elsewhere 9", postal_code="10115", city="Berlin", country="DE")
    handle(ChangeShippingAddress(order_id=order, shipping_address=moved))
    stale = decoded(str(order))

    apply(forget())
    assert detail(order)["customer_email"] == ""
    apply(stale)

    assert_erased(order)
    assert detail(order)["version"] == 2


def test_a_customer_who_orders_again_after_being_forgotten_keeps_the_new_orders_data() -> None:
    old = place()
    stale = decoded(str(old))
    apply(forget())
    new_email = "back-9x1c@example.org"
    new = place(email=new_email, name="Quorra Back")

    apply(stale)
    apply(decoded(str(new)))

    assert detail(old)["customer_email"] == ""
    assert (detail(new)["customer_email"], detail(new)["shipping_address"]["name"]) == (new_email, "Quorra Back")
    directory = CustomerDirectory.objects.using(read_database()).get(customer_id=CUSTOMER)
    assert directory.email == new_email


def test_forgetting_waits_for_a_batch_that_is_writing_the_customers_data() -> None:
    order = place()
    stale = decoded(str(order))
    forgotten = forget()
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def stale_batch() -> None:
        try:
            using = read_database()
            with transaction.atomic(using=using):
                OrdersProjection().apply(stale, using)
                NotificationsProjection().apply(stale, using)
                written.set()
                release.wait(30)
        except BaseException as error:  # reported by the test thread
            errors.append(error)
            written.set()
        finally:
            for connection in connections.all():
                connection.close()

    def forgetting() -> None:
        try:
            apply(forgotten)
        except BaseException as error:
            errors.append(error)
        finally:
            for connection in connections.all():
                connection.close()

    writer = threading.Thread(target=stale_batch)
    writer.start()
    assert written.wait(30)
    assert not errors
    eraser = threading.Thread(target=forgetting)
    eraser.start()
    try:
        eventually(waiting_for_an_advisory_lock, timeout=10, message="the forgetting to wait for the writing batch")
    finally:
        release.set()
        writer.join(30)
        eraser.join(30)
    assert not errors
    assert_erased(order)


def waiting_for_an_advisory_lock() -> bool:
    with connections[read_database()].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        row = cursor.fetchone()
    return bool(row and row[0])
