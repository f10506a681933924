"""Customer emails on OrderConfirmed, OrderShipped and OrderCancelled: the content, and
exactly one email per event however often the event is delivered or the sender runs."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from eventlog.models import StoredEvent
from eventlog.store import EventStore
from notifications.models import CustomerDirectory, Notification
from notifications.projection import NotificationsProjection
from notifications.sending import send_pending, send_soon, sending_key
from orders.commands import CancelOrder, ConfirmOrder, CreateOrder, LineItem, PayOrder, ShipOrder
from projector import doorbell
from projector.loop import Projector, all_partitions, read_database
from projector.models import ProjectionCheckpoint
from projector.rebuild_progress import rebuild_by_name
from projector.running import run_partition
from projector.tasks import project_partition
from tests.support.convergence import converged
from tests.support.services import Service
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LINES = (
    LineItem(sku="SKU-1", quantity=2, unit_price=Decimal("9.99")),
    LineItem(sku="SKU-2", quantity=1, unit_price=Decimal("5.00")),
)


def place(customer: str = "c-7", email: str = "") -> UUID:
    order_id = uuid4()
    handle(CreateOrder(order_id=order_id, customer_id=customer, currency="EUR", items=LINES, customer_email=email))
    return order_id


def ship(order_id: UUID) -> None:
    handle(ConfirmOrder(order_id=order_id))
    handle(PayOrder(order_id=order_id, payment_id="pay-1", amount=Decimal("24.98")))
    handle(ShipOrder(order_id=order_id, tracking_number="TRK-42", carrier="DHL"))


def event_id(order_id: UUID, event_type: str) -> UUID:
    return StoredEvent.objects.get(stream_id=str(order_id), event_type=event_type).event_id


@pytest.fixture
def inline(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True


@pytest.mark.usefixtures("inline")
def test_confirmed_shipped_and_cancelled_orders_email_the_customer() -> None:
    shipped = place(email="ada@example.com")
    ship(shipped)
    cancelled = place()  # no address on this order: the directory knows the customer's
    handle(CancelOrder(order_id=cancelled, reason="customer asked"))

    by_subject = {message.subject: message for message in mail.outbox}
    assert sorted(by_subject) == [
        f"Your order {number} {what}"
        for number, what in sorted(
            [
                (order_number(shipped), "has shipped"),
                (order_number(shipped), "is confirmed"),
                (order_number(cancelled), "was cancelled"),
            ]
        )
    ]
    confirmed = by_subject[f"Your order {order_number(shipped)} is confirmed"]
    assert confirmed.to == ["ada@example.com"]
    assert "2 x SKU-1 at 9.99 EUR" in confirmed.body
    assert "Total: 24.98 EUR" in confirmed.body
    assert confirmed.extra_headers["Message-ID"] == f"<{event_id(shipped, 'OrderConfirmed')}@backoffice.example>"
    shipped_mail = by_subject[f"Your order {order_number(shipped)} has shipped"]
    assert "with DHL" in shipped_mail.body
    assert "Tracking number: TRK-42" in shipped_mail.body
    cancelled_mail = by_subject[f"Your order {order_number(cancelled)} was cancelled"]
    assert cancelled_mail.to == ["ada@example.com"]
    assert "Reason: customer asked" in cancelled_mail.body
    assert "refunded" not in cancelled_mail.body  # it was never paid
    assert Counter(Notification.objects.values_list("status", flat=True)) == {"sent": 3}


def order_number(order_id: UUID) -> str:
    first = StoredEvent.objects.filter(stream_id=str(order_id)).order_by("version").first()
    assert first is not None
    return f"ORD-{first.position:07d}"


@pytest.mark.usefixtures("inline")
def test_a_customer_without_any_address_is_recorded_not_mailed() -> None:
    order = place(customer="c-nobody")
    handle(ConfirmOrder(order_id=order))
    assert mail.outbox == []
    assert Notification.objects.get().status == Notification.Status.NO_ADDRESS


@pytest.mark.usefixtures("inline")
def test_redelivered_events_and_rebuilds_owe_no_second_email() -> None:
    order = place(email="bob@example.com")
    ship(order)
    assert len(mail.outbox) == 2
    using = read_database()
    events = EventStore().read_all(0, limit=100)
    projection = NotificationsProjection()
    Projector(projection).apply(events, isolate_failures=False)  # the same events, delivered again
    ProjectionCheckpoint.objects.using(using).filter(projection="notifications").update(position=0)
    for partition in all_partitions():
        project_partition(partition)  # re-read the whole log as if every doorbell came again
    rebuild_by_name(["notifications"])
    send_pending()
    assert len(mail.outbox) == 2
    assert Notification.objects.using(using).count() == 2
    assert CustomerDirectory.objects.using(using).get(customer_id="c-7").email == "bob@example.com"


@pytest.mark.usefixtures("inline")
def test_events_older_than_the_horizon_are_expired_not_mailed(settings: Any) -> None:
    settings.NOTIFICATION_MAX_AGE_SECONDS = 0  # every event is old news, as after restoring a read database
    order = place(email="old@example.com")
    handle(ConfirmOrder(order_id=order))
    assert mail.outbox == []
    assert Notification.objects.get().status == Notification.Status.EXPIRED


class SlowOutbox(BaseEmailBackend):
    """An email backend slow enough for two senders to overlap; remembers what it sent."""

    sent: ClassVar[list[EmailMessage]] = []
    lock = threading.Lock()

    def send_messages(self, email_messages: Any) -> int:
        time.sleep(0.05)
        with self.lock:
            self.sent.extend(email_messages)
        return len(email_messages)


def test_concurrent_senders_send_each_owed_email_once(settings: Any) -> None:
    settings.EVENT_SUBSCRIBERS = []  # owe the emails below without sending them yet
    orders = [place(email=f"u{n}@example.com") for n in range(6)]
    for order in orders:
        handle(ConfirmOrder(order_id=order))
    settings.PROJECTIONS_INLINE = False
    settings.CELERY_BROKER_URL = ""  # nothing to hand the sending to: the two threads below send
    Projector(NotificationsProjection()).apply(EventStore().read_all(0, limit=100), isolate_failures=False)
    assert Notification.objects.filter(status="pending").count() == 6

    settings.EMAIL_BACKEND = f"{__name__}.SlowOutbox"
    SlowOutbox.sent.clear()
    senders = [threading.Thread(target=send_pending, kwargs={"batch_size": 2}) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(30)
    ids = Counter(message.extra_headers["Message-ID"] for message in SlowOutbox.sent)
    assert len(ids) == 6
    assert set(ids.values()) == {1}
    assert Notification.objects.filter(status="sent").count() == 6


@pytest.mark.worker
def test_a_real_worker_sends_one_email_per_event_despite_duplicate_doorbells(
    worker_env: None, tmp_path: Path, settings: Any
) -> None:
    from tests.support.services import celery

    outbox = tmp_path / "mail"
    outbox.mkdir()
    worker: Service = celery(
        "worker",
        tmp_path,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    )
    worker.start()
    try:
        order = place(email="eve@example.com")
        ship(order)
        cancelled = place(email="eve@example.com")
        handle(CancelOrder(order_id=cancelled, reason="duplicate order"))
        for _ in range(3):  # duplicate doorbells
            for partition in all_partitions():
                project_partition.apply_async((partition,))
        eventually(converged, message="projection", log=worker.log)
        eventually(
            lambda: Notification.objects.using(read_database()).filter(status="sent").count() == 3,
            message="three emails sent",
            log=worker.log,
        )
    finally:
        worker.stop()
    written = "".join(path.read_text() for path in outbox.iterdir())
    message_ids = Counter(line for line in written.splitlines() if line.startswith("Message-ID:"))
    assert len(message_ids) == 3
    assert set(message_ids.values()) == {1}
    assert written.count("To: eve@example.com") == 3


@pytest.mark.worker
def test_send_doorbells_coalesce_into_one_waiting_task_and_lose_no_email(
    worker_env: None, coalescing: str, tmp_path: Path
) -> None:
    from tests.support.services import celery, waiting_tasks

    cache_url = coalescing
    doorbell.answering(sending_key())  # a mark left by an earlier test's last send
    orders = [place(email="eve@example.com") for _ in range(3)]
    for order in orders:
        handle(ConfirmOrder(order_id=order))
    rung = waiting_tasks()  # the partitions' doorbells for these commits
    for partition in all_partitions():  # project here: each batch that owes emails rings
        while run_partition(partition):
            pass
    for _ in range(3):
        send_soon()
    assert waiting_tasks() == rung + 1  # one send task, however many rings

    outbox = tmp_path / "mail"
    outbox.mkdir()
    worker = celery(
        "worker",
        tmp_path,
        CACHE_URL=cache_url,
        DOORBELL_COALESCING="true",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox),
    )
    worker.start()
    try:
        sent = Notification.objects.using(read_database()).filter(status="sent")
        eventually(lambda: sent.count() == 3, message="the three confirmations mailed", log=worker.log)
        # The worker cleared the mark before sending: emails owed later ring again.
        handle(CancelOrder(order_id=orders[0], reason="changed my mind"))
        eventually(lambda: sent.count() == 4, message="the cancellation mailed", log=worker.log)
    finally:
        worker.stop()


@pytest.fixture
def hung_mail_server() -> Iterator[int]:
    """A port whose server takes connections (the kernel completes them) and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_a_mail_server_that_never_answers_is_given_up_on_and_its_rows_released(
    settings: Any, hung_mail_server: int
) -> None:
    # Configured, and bounded: Django's own default waits forever, holding the rows locked.
    assert settings.EMAIL_TIMEOUT is not None
    assert 0 < settings.EMAIL_TIMEOUT <= 30
    settings.EVENT_SUBSCRIBERS = []  # owe the email below without sending it yet
    order = place(email="ann@example.com")
    handle(ConfirmOrder(order_id=order))
    Projector(NotificationsProjection()).apply(EventStore().read_all(0, limit=100), isolate_failures=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", hung_mail_server
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1.0  # the configured bound, shortened for the test

    def send() -> None:
        try:
            send_pending()
        finally:
            connections.close_all()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    sender.join(settings.EMAIL_TIMEOUT + 15)
    assert not sender.is_alive(), "the sender still waits on the mail server, its rows locked"
    with transaction.atomic(using=read_database()):  # no lock left on the row: a scrub goes on
        owed = Notification.objects.using(read_database()).select_for_update(nowait=True).get(order_id=order)
    assert (owed.status, owed.attempts) == ("pending", 1)
    assert "timed out" in owed.last_error


def test_an_email_owed_in_a_later_batch_than_its_order_reads_the_customer_without_unsealing() -> None:
    # OrderCreated projected in one batch, the order's first email owed in the next: the
    # customer comes from the outbox (no row yet) and then the log. The customer id is the data
    # subject, never sealed, so the log is read as stored: no key is looked up, none decoded.
    order_id = place(customer="c-later", email="later@example.org")
    handle(ConfirmOrder(order_id=order_id))
    created, confirmed = EventStore().read_stream(str(order_id))
    projection, using = NotificationsProjection(), read_database()
    with transaction.atomic(using=using):
        projection.apply([created], using)
    with (
        transaction.atomic(using=using),
        CaptureQueriesContext(connections[using]) as read_side,
        CaptureQueriesContext(connections["default"]) as log_side,
    ):
        projection.apply([confirmed], using)
    statements = [query["sql"] for query in read_side.captured_queries]
    if connections[using] is not connections["default"]:
        statements += [query["sql"] for query in log_side.captured_queries]
    assert not any("eventlog_subjectkey" in sql for sql in statements), statements
    # The outbox and the log (the outbox's insert goes by COPY, through a cursor of its own).
    assert len([sql for sql in statements if "SAVEPOINT" not in sql]) == 2, statements
    assert Notification.objects.using(using).get(order_id=order_id).customer_id == "c-later"
