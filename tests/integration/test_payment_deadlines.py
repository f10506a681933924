"""Payment deadlines on the real services: PostgreSQL, a Celery worker projecting the log and
running the expiry, and beat driving it, with a deadline of a few seconds; for a payment that
loses the race, the inbound consumer and the relay on the machine's RabbitMQ too."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.db import connections
from django.utils import timezone

from eventlog.models import CommandRecord
from fulfilment.deadlines import expire_due
from fulfilment.models import PaymentDeadline
from fulfilment.payment_deadline import REASON
from integration.dead_letters import dead_messages
from integration.inbound import command_id
from integration.language import ORDER_REFUND_DUE
from inventory.events import product_stream
from orders.commands import PayOrder
from projector.loop import read_database
from readmodels.models import OrderDetail
from tests.support.convergence import converged
from tests.support.inbound import consumer, inbound, payment, send  # noqa: F401 (fixture)
from tests.support.rabbit import Subscriber, amqp_names, subscriber  # noqa: F401 (fixtures)
from tests.support.scenarios import events, has, order, row, stock, types
from tests.support.services import Service, celery
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = "3"
STRIPE = "/payments/stripe"


def start(tmp_path: Path, running: list[Service], **env: str) -> tuple[Service, Service]:
    """A worker whose deadlines fall due after DEADLINE_SECONDS, and beat checking twice a second."""
    worker = celery("worker", tmp_path, PAYMENT_DEADLINE_SECONDS=DEADLINE_SECONDS, **env)
    beat = celery("beat", tmp_path, CATCH_UP_INTERVAL_SECONDS="0.5")
    for service in (worker, beat):
        service.start()
        running.append(service)
    return worker, beat


def deadline(order_id: UUID) -> PaymentDeadline | None:
    return PaymentDeadline.objects.using(read_database()).filter(order_id=order_id).first()


def cancellations(order_id: UUID) -> list[dict[str, Any]]:
    return [event.data for event in events(str(order_id)) if event.event_type == "OrderCancelled"]


def expiry_runs(worker: Service) -> int:
    """Expiry tasks the worker has finished, as its log says."""
    return worker.log.read_text(errors="replace").count("fulfilment.expire_payment_deadlines[")


def test_an_unpaid_order_is_cancelled_once_and_its_stock_released_a_paid_one_never(
    worker_env: None, tmp_path: Path, running: list[Service]
) -> None:
    worker, _ = start(tmp_path, running)
    stock("A", 10)
    paid, total = order(("UNTRACKED", 1))
    handle(PayOrder(order_id=paid, payment_id="p-1", amount=total))
    unpaid, _ = order(("A", 2))
    eventually(has(unpaid, "OrderCancelled"), timeout=60, message="the deadline to cancel the order", log=worker.log)
    eventually(has(product_stream("A"), "StockReleased"), message="the reservation to be released", log=worker.log)
    assert types(product_stream("A"))[-2:] == ["StockReserved", "StockReleased"]
    # Later expiry runs (every half second) find nothing more to cancel.
    runs = expiry_runs(worker)
    eventually(lambda: expiry_runs(worker) >= runs + 6, message="three more expiry runs", log=worker.log)
    eventually(converged, message="convergence", log=worker.log)
    assert cancellations(unpaid) == [{"order_id": str(unpaid), "reason": REASON, "refund_due": "0.00"}]
    assert row("A") == (10, 0, 10)
    # The paid order's deadline passed before the unpaid one's, and beat left it alone.
    assert types(paid)[-1] == "OrderPaid"
    assert (deadline(paid).status, deadline(unpaid).status) == ("PAID", "CANCELLED")  # type: ignore[union-attr]


def test_killing_worker_and_beat_before_the_deadline_loses_nothing(
    worker_env: None, tmp_path: Path, running: list[Service]
) -> None:
    worker, beat = start(tmp_path, running)
    stock("A", 10)
    first, _ = order(("A", 1))
    eventually(lambda: deadline(first) is not None, message="the first deadline to be recorded", log=worker.log)
    worker.kill()
    beat.kill()
    second, _ = order(("A", 2))  # confirmed while nothing runs: its doorbell waits on the broker
    due_at = deadline(first).due_at  # type: ignore[union-attr]
    eventually(lambda: timezone.now() > due_at, message="the first deadline to pass with nothing running")
    assert types(first)[-1] != "OrderCancelled"
    worker.start()
    beat.start()
    for order_id in (first, second):
        eventually(has(order_id, "OrderCancelled"), timeout=60, message="the deadline after restart", log=worker.log)
    eventually(converged, message="convergence", log=worker.log)
    assert [len(cancellations(order_id)) for order_id in (first, second)] == [1, 1]
    assert row("A") == (10, 0, 10)


def test_one_due_deadline_expired_by_two_runs_at_once_and_a_replay_cancels_once(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    settings.PAYMENT_DEADLINE_SECONDS = 0
    order_id, _ = order(("UNTRACKED", 1))
    assert deadline(order_id).status == "OPEN"  # type: ignore[union-attr]
    # The projection does not see the cancellation yet, so every run below finds the row open.
    settings.EVENT_SUBSCRIBERS = []
    start_together = threading.Barrier(2)
    sent: list[int] = []

    def run() -> None:
        try:
            start_together.wait(10)
            sent.append(expire_due())
        finally:
            connections.close_all()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(30)
    assert sent == [1, 1]  # each run sent it; one was applied, the other answered from its record
    assert expire_due() == 1  # a replayed task, the row still open: answered the same way
    assert len(cancellations(order_id)) == 1
    assert CommandRecord.objects.filter(command_id=f"payment-deadline:{order_id}").count() == 1


@pytest.mark.parametrize(("allowed", "worker_clock", "expired"), [(3600, 2, 0), (0, -2, 1)])
def test_a_deadline_is_due_by_the_databases_clock_whatever_the_workers_says(
    settings: Any, monkeypatch: pytest.MonkeyPatch, allowed: int, worker_clock: int, expired: int
) -> None:
    """The deadline is its event's time in the database plus the time allowed: a worker whose
    clock is hours ahead cancels nothing early, one hours behind still cancels on time."""
    settings.PROJECTIONS_INLINE = True
    settings.PAYMENT_DEADLINE_SECONDS = allowed
    order_id, _ = order(("UNTRACKED", 1))
    assert deadline(order_id).status == "OPEN"  # type: ignore[union-attr]
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(hours=worker_clock))
    assert expire_due() == expired
    assert len(cancellations(order_id)) == expired


def test_a_payment_captured_after_the_deadline_cancelled_the_order_is_kept_and_owed_back(
    worker_env: None,
    inbound: dict[str, str],  # noqa: F811
    subscriber: Subscriber,  # noqa: F811
    tmp_path: Path,
    running: list[Service],
) -> None:
    worker, _ = start(tmp_path, running, **inbound)  # the relay publishes to this test's exchange
    order_id, total = order(("UNTRACKED", 1))
    eventually(has(order_id, "OrderCancelled"), timeout=60, message="the deadline to cancel the order", log=worker.log)
    late = consumer(tmp_path, inbound)
    late.start()
    running.append(late)
    captured = payment(order_id, total, source=STRIPE)
    again = payment(order_id, total, source=STRIPE, data={"payment_id": captured["data"]["payment_id"]})
    # Delivered twice, then once more under another message id: one payment, owed back once.
    send(captured, captured, again)
    settled = CommandRecord.objects.filter(command_id__in=[command_id(STRIPE, m["id"]) for m in (captured, again)])
    # The consumer takes one message at a time: once the last is settled, so are the others.
    eventually(lambda: settled.count() == 2, message="the three deliveries to be settled", log=late.log)
    subscriber.until(
        lambda messages: any(message["type"] == ORDER_REFUND_DUE for message in messages),
        timeout=60,
        message="the refund due to be published",
    )
    eventually(converged, message="convergence", log=worker.log)

    assert dead_messages() == []
    assert types(order_id)[-2:] == ["OrderCancelled", "PaymentCapturedAfterCancellation"]
    assert types(order_id).count("PaymentCapturedAfterCancellation") == 1
    shown = OrderDetail.objects.using(read_database()).get(order_id=order_id)
    assert (shown.status, shown.refund_due, shown.payment_id) == ("CANCELLED", total, "")
    assert shown.timeline[-1]["event_type"] == "PaymentCapturedAfterCancellation"
    assert captured["data"]["payment_id"] in shown.timeline[-1]["description"]
    # The deadline stays closed as cancelled: the late payment neither reopens nor pays it.
    assert deadline(order_id).status == "CANCELLED"  # type: ignore[union-attr]
    [refund_due] = [message for message in subscriber.distinct().values() if message["type"] == ORDER_REFUND_DUE]
    assert (refund_due["subject"], refund_due["sequence"]) == (str(order_id), "4")
    assert refund_due["data"] == {
        "order_id": str(order_id),
        "customer_id": "c-1",
        "status": "CANCELLED",
        "refund_due": str(total),
        "change": str(total),
        "currency": "EUR",
        "reason": "paid_after_cancellation",
    }
