"""The fulfilment process manager on the real services: PostgreSQL, a Celery worker on the
broker, and the same partitions and checkpoints as the projections."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth.models import User
from django.db import connections
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from eventlog.store import EventStore
from fulfilment.models import FulfilmentProcess
from inventory.commands import ReserveStock
from inventory.events import product_stream
from orders.commands import CancelOrder, PayOrder, ShipOrder
from projector.models import ProjectionCheckpoint
from projector.tasks import project_partition
from tests.support.convergence import converged
from tests.support.scenarios import events, has, order, row, stock, types
from tests.support.services import Service, celery
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_reserved_stock_lets_the_order_be_paid_and_shipped(worker: Service) -> None:
    stock("A", 10)
    stock("B", 10)
    story = UUID(int=42)
    order_id, total = order(("A", 2), ("B", 3), ("UNTRACKED", 1), correlation=story)
    eventually(
        has(order_id, "OrderStockReserved"), message="the order to be told its stock is reserved", log=worker.log
    )
    eventually(converged, message="convergence")
    assert (row("A"), row("B")) == ((10, 2, 8), (10, 3, 7))
    handle(PayOrder(order_id=order_id, payment_id="p-1", amount=total))
    handle(ShipOrder(order_id=order_id, tracking_number="T-1", carrier="DHL"))
    assert types(order_id)[-2:] == ["OrderPaid", "OrderShipped"]
    # One story across streams: the reservations carry the confirmation's correlation id and
    # name the event that caused them.
    confirmed = next(event for event in events(str(order_id)) if event.event_type == "OrderConfirmed")
    reserved = [event for event in events(product_stream("A")) if event.event_type == "StockReserved"]
    assert reserved[0].metadata["correlation_id"] == str(story)
    assert reserved[0].metadata["causation_id"] == str(confirmed.event_id)
    correlated = set(
        StoredEvent.objects.filter(metadata__correlation_id=str(story)).values_list("stream_id", flat=True)
    )
    assert {str(order_id), product_stream("A"), product_stream("B")} <= correlated


def test_out_of_stock_cancels_the_order_and_releases_the_other_lines(worker: Service) -> None:
    stock("A", 10)
    stock("B", 1)
    order_id, _ = order(("A", 2), ("B", 3))
    eventually(has(order_id, "OrderCancelled"), message="the order to be cancelled", log=worker.log)
    cancelled = events(str(order_id))[-1]
    assert cancelled.data["reason"] == "out of stock: B"
    eventually(has(product_stream("A"), "StockReleased"), message="A's reservation to be released")
    eventually(converged, message="convergence")
    assert (row("A"), row("B")) == ((10, 0, 10), (1, 0, 1))
    assert "OrderStockReserved" not in types(order_id)
    assert FulfilmentProcess.objects.get(order_id=order_id).status == "OUT_OF_STOCK"


def test_cancelling_an_order_releases_its_reservations(worker: Service) -> None:
    stock("A", 5)
    order_id, _ = order(("A", 5))
    eventually(has(order_id, "OrderStockReserved"), message="the reservation", log=worker.log)
    handle(CancelOrder(order_id=order_id, reason="customer asked"))
    eventually(has(product_stream("A"), "StockReleased"), message="the release", log=worker.log)
    eventually(converged, message="convergence")
    assert row("A") == (5, 0, 5)


def process_state() -> list[tuple[str, str, dict[str, str]]]:
    return sorted((str(p.order_id), p.status, p.lines) for p in FulfilmentProcess.objects.all())


def test_redelivering_every_event_changes_nothing(worker: Service) -> None:
    stock("A", 4)
    stock("B", 2)
    reserved, _ = order(("A", 1), ("B", 1))
    out_of_stock, _ = order(("A", 1), ("B", 5))
    cancelled, _ = order(("A", 2))
    eventually(has(reserved, "OrderStockReserved"), message="reservation", log=worker.log)
    eventually(has(out_of_stock, "OrderCancelled"), message="out of stock", log=worker.log)
    eventually(has(cancelled, "OrderStockReserved"), message="reservation", log=worker.log)
    handle(CancelOrder(order_id=cancelled, reason="changed my mind"))
    eventually(converged, message="convergence")
    head, before = EventStore().head_position(), process_state()
    assert [status for _, status, _ in before].count("RESERVED") == 1

    # Replay from checkpoint 0 with many copies of every doorbell, twice: same decisions,
    # same command ids, every one answered from the command records.
    for _ in range(2):
        ProjectionCheckpoint.objects.filter(projection="fulfilment").update(position=0)
        for _ in range(3):
            for partition in range(4):
                project_partition.apply_async((partition,))
        eventually(converged, message="the replay to reach the head", log=worker.log)
    assert EventStore().head_position() == head
    assert process_state() == before
    # Its state is what makes this safe: replayed into empty state, a product's StockReserved
    # (another partition) may arrive before the OrderConfirmed that caused it and be ignored.


def test_two_reservations_racing_for_the_last_unit_one_wins() -> None:
    stock("LAST", 1)
    orders = [UUID(int=1), UUID(int=2)]
    barrier, errors = threading.Barrier(2), []

    def reserve(order_id: UUID) -> None:
        try:
            barrier.wait(10)
            handle(ReserveStock(sku="LAST", order_id=order_id, quantity=1))
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connections to every database

    threads = [threading.Thread(target=reserve, args=(order_id,)) for order_id in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    outcome = sorted(types(product_stream("LAST"))[2:])
    assert outcome == ["StockReservationFailed", "StockReserved"]


def test_two_orders_racing_for_the_last_unit_exactly_one_gets_it(worker: Service) -> None:
    stock("LAST", 1)
    results: list[UUID] = []
    barrier, errors = threading.Barrier(2), []

    def place() -> None:
        try:
            barrier.wait(10)
            results.append(order(("LAST", 1))[0])
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connections to every database

    threads = [threading.Thread(target=place) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    eventually(converged, message="both orders decided", log=worker.log)
    eventually(lambda: all(has(o, "OrderStockReserved")() or has(o, "OrderCancelled")() for o in results))
    outcomes = sorted(types(order_id)[-1] for order_id in results)
    assert outcomes == ["OrderCancelled", "OrderStockReserved"]
    eventually(converged, message="convergence")
    assert row("LAST") == (1, 1, 0)


def test_payment_is_refused_over_http_until_the_stock_is_reserved(worker_env: None, tmp_path: Any) -> None:
    stock("A", 3)
    order_id, total = order(("A", 1))  # no worker yet: the reservation is pending
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    body = {"payment_id": "p-1", "amount": str(total)}
    refused = client.post(f"/api/orders/{order_id}/pay/", body, format="json")
    assert refused.status_code == 409, refused.content
    assert refused["Content-Type"] == "application/problem+json"
    assert "stock is reserved" in refused.json()["detail"]
    worker = celery("worker", tmp_path)
    worker.start()
    try:
        eventually(has(order_id, "OrderStockReserved"), message="the reservation", log=worker.log)
    finally:
        worker.stop()
    assert client.post(f"/api/orders/{order_id}/pay/", body, format="json").status_code == 200
