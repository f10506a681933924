"""Poison events, duplicate and out-of-order application, and rebuilds, on real PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth.models import User
from django.db import connections
from rest_framework.test import APIClient

from eventlog.models import StoredEvent
from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore
from orders.commands import CancelOrder, ConfirmOrder, CreateOrder, LineItem, PayOrder
from projector.loop import Projector, all_partitions, read_database
from projector.models import DeadLetter
from projector.rebuild_progress import rebuild_by_name
from projector.registry import all_projections
from readmodels.models import CustomerLifetimeValue, CustomerOrderStats, DailySales, OrderSummary
from readmodels.projections.sales import SalesProjection
from tests.support.read_side import read_models
from tests.support.scenarios import FlakyOrders, create
from tests.support.workload import drive_orders
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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


LARGEST_TOTAL = Decimal("999999999999.99")  # the largest total an order may have (orders/domain.py)


def paid_order(customer: str, unit_price: Decimal) -> UUID:
    """Place, confirm and pay a one-line order of `unit_price`."""
    command = CreateOrder(
        customer_id=customer, currency="EUR", items=(LineItem(sku="BIG", quantity=1, unit_price=unit_price),)
    )
    handle(command)
    handle(ConfirmOrder(order_id=command.order_id))
    handle(PayOrder(order_id=command.order_id, payment_id=f"pay-{command.order_id}", amount=unit_price))
    return command.order_id


def revenue_by_day() -> dict[date, Decimal]:
    """Each day's revenue, summed from the OrderPaid events in the log (well within 28 digits)."""
    rows = StoredEvent.objects.filter(event_type="OrderPaid").values_list("recorded_at", "data")
    days: dict[date, Decimal] = {}
    for recorded_at, data in rows:
        days[recorded_at.date()] = days.get(recorded_at.date(), Decimal("0")) + Decimal(data["amount"])
    return days


def test_the_largest_accepted_orders_never_overflow_the_shared_sums(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    whales = 101
    for _ in range(whales):
        paid_order("whale", LARGEST_TOTAL)
    paid_order("minnow", Decimal("10.00"))

    assert not DeadLetter.objects.exists()
    daily = {row.day: row for row in DailySales.objects.filter(currency="EUR")}
    assert {day: row.revenue for day, row in daily.items()} == revenue_by_day()
    assert sum(row.orders_paid for row in daily.values()) == whales + 1
    assert sum(row.revenue for row in daily.values()) == whales * LARGEST_TOTAL + Decimal("10.00")
    lifetime = dict(CustomerLifetimeValue.objects.values_list("customer_id", "amount"))
    assert lifetime == {"whale": whales * LARGEST_TOTAL, "minnow": Decimal("10.00")}
    client = APIClient()
    client.force_authenticate(User.objects.create_user("reader"))
    stats = client.get("/api/customers/whale/stats/")
    assert stats.status_code == 200, stats.content
    assert stats.json()["lifetime_value"] == {"EUR": "100999999999998.99"}


class PoisonedSales(SalesProjection):
    """The sales projection with a bug that fires on one order's stream."""

    def __init__(self, poisoned: str) -> None:
        super().__init__()
        self.poisoned = poisoned

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        if any(event.stream_id == self.poisoned for event in events):
            raise RuntimeError("sales bug")
        super().apply(events, using)


def test_one_poisoned_order_never_stops_other_customers_figures(manual: None) -> None:
    sick = paid_order("c-sick", Decimal("7.00"))
    healthy = [paid_order(f"c-{n}", Decimal("3.00")) for n in range(3)]
    projector = Projector(PoisonedSales(str(sick)))
    catch_up(projector)
    assert {status for _, status, _ in letters(sick)} == {"retrying", "held"}
    stats = dict(CustomerOrderStats.objects.values_list("customer_id", "orders_count"))
    assert stats == {"c-0": 1, "c-1": 1, "c-2": 1}
    assert dict(CustomerLifetimeValue.objects.values_list("customer_id", "amount")) == {
        f"c-{n}": Decimal("3.00") for n in range(3)
    }
    # The day's shared row has the healthy orders, and keeps moving after the poison.
    assert sum(DailySales.objects.values_list("revenue", flat=True)) == Decimal("9.00")
    later = paid_order("c-late", Decimal("5.00"))
    catch_up(projector)
    assert sum(DailySales.objects.values_list("orders_paid", flat=True)) == len(healthy) + 1
    assert CustomerLifetimeValue.objects.get(customer_id="c-late").amount == Decimal("5.00")
    assert letters(later) == []
