"""What answering a doorbell and a read-your-writes wait cost PostgreSQL, counted on the wire: the
process manager moves with the read models when it has nothing to react to (no transaction,
no append lock of its own), a caught-up batch is its lock alone, and a wait that is already
met takes no wait slot while a wait that polls reads only the checkpoints each time."""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from eventlog.buckets import bucket_of
from eventlog.store import APPEND_LOCK_KEY, event_store
from orders.commands import ConfirmOrder, CreateOrder, LineItem, PayOrder, ShipOrder
from projector.loop import all_partitions
from projector.models import ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.registry import all_projections
from projector.running import run_partition
from projector.status import wait_until_applied
from tests.support.wire import wire
from writeside.bus import handle

# The wire is traced on the default connection, so the read models must be on it too: the
# two-database run deselects these (Makefile), the main run proves them.
pytestmark = [pytest.mark.postgres, pytest.mark.one_database, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def one_database(settings: Any) -> None:
    assert len(connections.databases) == 1, "read models on another connection: run with -m 'not one_database'"
    settings.EVENT_SUBSCRIBERS = []  # nothing projects after commit: the tests do
    # Every checkpoint row exists, as after a partition's first batch.
    ProjectionCheckpoint.objects.bulk_create(
        ProjectionCheckpoint(projection=name, partition=partition)
        for name in all_projections()
        for partition in all_partitions()
    )


def untracked_order() -> tuple[int, int]:
    """An order of products nobody registered, created, confirmed, paid and shipped; returns
    its partition and the position of its last event."""
    create = CreateOrder(
        customer_id="c-1", currency="EUR", items=(LineItem(sku="UNTRACKED", quantity=2, unit_price=Decimal("5.00")),)
    )
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id))
    handle(PayOrder(order_id=create.order_id, payment_id="p-1", amount=Decimal("10.00")))
    handle(ShipOrder(order_id=create.order_id, tracking_number="T-1", carrier="DHL"))
    return partition_of_bucket(bucket_of(str(create.order_id))), event_store().head_position()


def test_an_order_without_tracked_stock_is_projected_in_one_transaction_without_the_append_lock() -> None:
    partition, head = untracked_order()
    with wire() as traced:
        assert not run_partition(partition)
    [run] = traced
    # One shared batch for every projection, the process manager included: it had nothing
    # to react to (its confirmation named no tracked stock), so it took no append lock.
    assert run.queries("COMMIT") == 1
    assert run.queries(f"pg_advisory_xact_lock({APPEND_LOCK_KEY})") == 0
    positions = ProjectionCheckpoint.objects.filter(partition=partition).values_list("projection", "position")
    assert dict(positions) == dict.fromkeys(all_projections(), head)


def test_a_caught_up_partition_costs_its_lock_and_the_head() -> None:
    partition, _ = untracked_order()
    run_partition(partition)
    with wire() as traced:
        assert not run_partition(partition)
    [run] = traced
    # BEGIN, the checkpoints' lock, the head, COMMIT: nothing read, nothing moved.
    assert run.round_trips == 4
    assert run.queries('"UPDATE ') == 0  # (the lock is a SELECT ... FOR UPDATE)


class RefusedSlot(AbstractContextManager[bool]):
    """A wait slot that must not be asked for."""

    def __enter__(self) -> bool:
        raise AssertionError("a wait slot was taken for a position already applied")

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_read_your_writes_wait_already_met_takes_no_wait_slot() -> None:
    _, head = untracked_order()
    for partition in all_partitions():
        run_partition(partition)
    with wire() as traced:
        assert wait_until_applied(head, 5.0, slot=RefusedSlot())
    [check] = traced
    assert check.round_trips == 1  # the checkpoints: met, so neither the head nor a slot


def test_a_waiting_read_polls_the_checkpoints_alone() -> None:
    _, head = untracked_order()
    with wire() as traced:
        assert not wait_until_applied(head, 0.3, poll=0.05)
    [wait] = traced
    # The log is read twice (its head, what each partition owes) however many polls ran.
    assert wait.queries("eventlog_storedevent") == 2
    assert wait.queries("readmodels_projectioncheckpoint") >= 4
