"""Forgetting racing the projections, reproduced step by step on PostgreSQL (and, with
READ_DATABASE_URL, with the read models in a second database) and SQLite: a batch of an order's
partition that decoded the order while its customer's key existed and commits after the
CustomerForgotten was applied (in the customer's partition) leaves no plain personal data,
in the order's rows or the customer directory; a customer who orders again keeps the new
order's data; a batch that is writing when the forgetting is applied makes it wait; and an
email being sent (its recipient decoded before the key was deleted) records no recipient
once the forgetting is applied. The last two run two transactions at once: PostgreSQL only
(SQLite runs one at a time)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connections, transaction

from eventlog.recorded import RecordedEvent
from eventlog.store import event_store
from notifications.models import CustomerDirectory, Notification
from notifications.projection import NotificationsProjection
from notifications.sending import send_pending
from orders.addresses import Address
from orders.commands import ChangeShippingAddress, ConfirmOrder, ForgetCustomer
from orders.customers import customer_stream_id
from projector.loop import read_database
from readmodels.models import OrderDetail, OrderSummary
from readmodels.projections.orders import OrdersProjection
from tests.support.concurrency import in_thread
from tests.support.forgetting import place as place_order_of
from tests.support.read_side import ON_BOTH_DATABASES
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CUSTOMER = "c-race"
EMAIL = "race-7q2v@example.org"
NAME = "Quorra Vantablack"
place = partial(place_order_of, customer=CUSTOMER, email=EMAIL, name=NAME)


@pytest.fixture(autouse=True)
def by_hand(settings: Any) -> None:
    """Nothing projects unless the test applies it: each batch is a step of the race."""
    settings.PROJECTIONS_INLINE = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.DOORBELL_COALESCING = False


def decoded(stream_id: str) -> list[RecordedEvent]:
    """A batch as a projector reads it now: unsealed with the keys that exist now."""
    return event_store().read_stream(stream_id)


def apply(events: Sequence[RecordedEvent]) -> None:
    """One projector batch: the projections' work in one read-side transaction."""
    using = read_database()
    with transaction.atomic(using=using):
        apply_in(events, using)


def apply_in(events: Sequence[RecordedEvent], using: str) -> None:
    """The projections that hold personal data apply `events` in the current transaction."""
    for projection in (OrdersProjection(), NotificationsProjection()):
        projection.apply(events, using)


def forget(customer: str = CUSTOMER) -> list[RecordedEvent]:
    handle(ForgetCustomer(customer_id=customer))
    return decoded(customer_stream_id(customer))[-1:]


def detail(order_id: UUID) -> dict[str, Any]:
    return dict(OrderDetail.objects.using(read_database()).values().get(order_id=order_id))


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
    assert (summary.customer_name, summary.customer_email) == ("", "")
    assert not CustomerDirectory.objects.using(read_database()).filter(customer_id=CUSTOMER).exists()


@ON_BOTH_DATABASES
def test_a_batch_decoded_before_the_forgetting_and_applied_after_it_writes_nulls(vendor: str) -> None:
    assert connections[read_database()].vendor == vendor
    order = place()
    stale = decoded(str(order))
    assert stale[0].event.customer_email == EMAIL  # decoded while the key existed

    apply(forget())
    apply(stale)

    assert_erased(order)
    assert detail(order)["version"] == 1


@ON_BOTH_DATABASES
def test_an_order_projected_before_and_moved_by_a_stale_batch_after_the_forgetting_is_erased(vendor: str) -> None:
    assert connections[read_database()].vendor == vendor
    order = place()
    apply(decoded(str(order)))
    assert detail(order)["customer_email"] == EMAIL
    listed = OrderSummary.objects.using(read_database()).get(order_id=order)
    assert (listed.customer_name, listed.customer_email) == (NAME, EMAIL)
    moved = Address(name="Other " + NAME, line1="Elsewhere 9", postal_code="10115", city="Berlin", country="DE")
    handle(ChangeShippingAddress(order_id=order, shipping_address=moved))
    stale = decoded(str(order))

    apply(forget())
    assert detail(order)["customer_email"] == ""
    apply(stale)

    assert_erased(order)
    assert detail(order)["version"] == 2


@ON_BOTH_DATABASES
def test_a_customer_who_orders_again_after_being_forgotten_keeps_the_new_orders_data(vendor: str) -> None:
    assert connections[read_database()].vendor == vendor
    old = place()
    stale = decoded(str(old))
    apply(forget())
    new_email = "back-9x1c@example.org"
    new = place(email=new_email, name="Quorra Back")

    apply(stale)
    apply(decoded(str(new)))

    assert detail(old)["customer_email"] == ""
    assert (detail(new)["customer_email"], detail(new)["shipping_address"]["name"]) == (new_email, "Quorra Back")
    listed = OrderSummary.objects.using(read_database()).get(order_id=new)
    assert (listed.customer_name, listed.customer_email) == ("Quorra Back", new_email)
    directory = CustomerDirectory.objects.using(read_database()).get(customer_id=CUSTOMER)
    assert directory.email == new_email


@pytest.mark.postgres
def test_forgetting_waits_for_a_batch_that_is_writing_the_customers_data() -> None:
    order = place()
    stale = decoded(str(order))
    forgotten = forget()
    written, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def stale_batch() -> None:
        using = read_database()
        try:
            with transaction.atomic(using=using):
                apply_in(stale, using)
                written.set()
                release.wait(30)
        finally:
            written.set()

    writer = in_thread(stale_batch, errors)
    assert written.wait(30)
    assert not errors
    eraser = in_thread(lambda: apply(forgotten), errors)
    try:
        eventually(waiting_for_a_lock, timeout=10, message="the forgetting to wait for the writing batch")
    finally:
        release.set()
        writer.join(30)
        eraser.join(30)
    assert not errors
    assert_erased(order)


class HeldOutbox(BaseEmailBackend):
    """A mail server that holds each message until the test lets it through."""

    sending: ClassVar[threading.Event] = threading.Event()
    release: ClassVar[threading.Event] = threading.Event()
    sent: ClassVar[list[str]] = []

    def send_messages(self, email_messages: Any) -> int:
        self.sending.set()
        self.release.wait(30)
        self.sent.extend(recipient for message in email_messages for recipient in message.to)
        return len(email_messages)


@pytest.mark.postgres
def test_an_email_being_sent_while_the_customer_is_forgotten_keeps_no_recipient(settings: Any) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.HeldOutbox"
    HeldOutbox.sending.clear()
    HeldOutbox.release.clear()
    HeldOutbox.sent.clear()
    order = place()
    handle(ConfirmOrder(order_id=order))
    apply(decoded(str(order)))
    errors: list[BaseException] = []

    sender = in_thread(send_pending, errors)
    assert HeldOutbox.sending.wait(30)  # composed: the recipient was decoded with the key
    eraser = in_thread(lambda: apply(forget()), errors)
    try:
        eventually(
            lambda: not eraser.is_alive() or waiting_for_a_lock(),
            timeout=10,
            message="the forgetting to be applied or to wait",
        )
    finally:
        HeldOutbox.release.set()
        sender.join(30)
        eraser.join(30)

    assert not errors
    assert HeldOutbox.sent == [EMAIL]  # the mail server got it: beyond our databases
    notification = Notification.objects.using(read_database()).get(order_id=order)
    assert (notification.status, notification.recipient) == (Notification.Status.SENT, "")


def waiting_for_a_lock() -> bool:
    with connections[read_database()].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        row = cursor.fetchone()
    return bool(row and row[0])
