"""Poison events, duplicate and out-of-order application, and rebuilds, on real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from django.db import connections

from eventlog.store import EventStore, RecordedEvent
from orders.bus import handle
from orders.commands import CancelOrder, ConfirmOrder, CreateOrder, LineItem
from readmodels.models import DeadLetter, OrderSummary
from readmodels.projections import all_projections
from readmodels.projections.orders import OrdersProjection
from readmodels.projector import Projector, all_partitions, read_database
from readmodels.rebuild import rebuild_by_name
from tests.integration.conftest import read_models
from tests.integration.workload import drive_orders

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class FlakyOrders(OrdersProjection):
    """The orders projection with a bug that fires on chosen streams until it is fixed."""

    def __init__(self, poisoned: set[str]) -> None:
        super().__init__()
        self.poisoned = poisoned

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        if any(event.stream_id in self.poisoned for event in events):
            raise RuntimeError("projection bug")
        super().apply(events, using)


def create(customer: str = "c-1") -> UUID:
    command = CreateOrder(
        customer_id=customer, currency="EUR", items=(LineItem(sku="A", quantity=1, unit_price=Decimal("5.00")),)
    )
    handle(command)
    return command.order_id


def catch_up(projector: Projector) -> None:
    for partition in all_partitions():
        projector.catch_up(partition)


@pytest.fixture
def manual(settings: Any) -> None:
    """Commands do not project by themselves; the test drives the projector."""
    settings.PROJECTIONS_INLINE = False
    settings.EVENT_SUBSCRIBERS = []
    settings.PROJECTION_MAX_ATTEMPTS = 3
    settings.PROJECTION_RETRY_BASE_SECONDS = 0


def letters(stream: UUID) -> list[tuple[str, str, int]]:
    return list(
        DeadLetter.objects.filter(stream_id=str(stream))
        .values_list("event_type", "status", "attempts")
        .order_by("position")
    )


def test_poison_event_is_retried_then_parked_while_other_orders_flow(manual: None) -> None:
    sick, healthy = create(), create()
    handle(ConfirmOrder(order_id=sick))
    projection = FlakyOrders(poisoned={str(sick)})
    projector = Projector(projection)
    catch_up(projector)
    assert OrderSummary.objects.filter(order_id=healthy).exists()
    assert not OrderSummary.objects.filter(order_id=sick).exists()
    assert letters(sick) == [("OrderCreated", "retrying", 1), ("OrderConfirmed", "held", 0)]

    # The sick order's later events are held behind it; other orders keep flowing.
    handle(CancelOrder(order_id=sick, reason="late"))
    handle(ConfirmOrder(order_id=healthy))
    catch_up(projector)
    assert OrderSummary.objects.get(order_id=healthy).status == "CONFIRMED"
    assert letters(sick)[-1] == ("OrderCancelled", "held", 0)

    # Automatic retries with backoff (zero here) use up the attempts, then it is parked.
    projector.retry_due()
    projector.retry_due()
    assert letters(sick)[0] == ("OrderCreated", "parked", 3)
    assert projector.retry_due() == 0  # parked: no more automatic retries

    # After the fix, a retry applies the parked and held events in stream order.
    projection.poisoned.clear()
    assert projector.retry_stream(str(sick))
    assert OrderSummary.objects.get(order_id=sick).status == "CANCELLED"
    assert OrderSummary.objects.get(order_id=sick).version == 3
    assert {status for _, status, _ in letters(sick)} == {"resolved"}
    live = read_models()
    rebuild_by_name(["orders"])
    assert read_models()["detail"] == live["detail"]


def test_skipping_a_parked_event_unblocks_its_stream(manual: None) -> None:
    sick = create()
    projection = FlakyOrders(poisoned={str(sick)})
    projector = Projector(projection)
    catch_up(projector)
    handle(ConfirmOrder(order_id=sick))
    catch_up(projector)
    assert not projector.retry_stream(str(sick))  # still broken
    projection.poisoned.clear()
    assert projector.retry_stream(str(sick), skip_first=True)
    assert [status for _, status, _ in letters(sick)] == ["skipped", "resolved"]
    # Per-order order is never broken: the confirm needed the creation, read from the log.
    assert OrderSummary.objects.get(order_id=sick).version == 2


def test_applying_the_same_events_twice_changes_nothing(manual: None) -> None:
    drive_orders(8, seed=21)
    events = EventStore().read_all(0, limit=10_000)
    for projection in all_projections().values():
        projection.apply(events, read_database())
    once = read_models()
    for projection in all_projections().values():
        projection.apply(events, read_database())
        projection.apply(events[len(events) // 2 :], read_database())
    assert read_models() == once


def test_an_order_event_arriving_before_its_predecessors_is_applied_in_stream_order(manual: None) -> None:
    order_id = create()
    handle(ConfirmOrder(order_id=order_id))
    handle(CancelOrder(order_id=order_id, reason="reverse"))
    events = EventStore().read_stream(str(order_id))
    for projection in all_projections().values():
        for event in reversed(events):  # v3 first: the stream is caught up from the log
            projection.apply([event], read_database())
    live = read_models()
    assert [entry["version"] for entry in live["detail"][0]["timeline"]] == [1, 2, 3]
    rebuild_by_name([])
    assert read_models() == live


def test_rebuild_equals_live_and_readers_never_see_a_half_built_table(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    settings.REBUILD_BATCH_SIZE = 7
    drive_orders(40, seed=22)
    live = read_models()
    total = len(live["summary"])
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(OrderSummary.objects.count())
        finally:
            connections.close_all()  # this thread's connections to every database

    reader = threading.Thread(target=read)
    reader.start()
    try:
        rebuild_by_name([])
    finally:
        done.set()
        reader.join(30)
    assert seen
    assert min(seen) == total  # the old rows stayed visible until the new ones replaced them
    assert read_models() == live
