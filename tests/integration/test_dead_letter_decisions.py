"""An operator's decision on a dead letter outlives every replay of its position, and no
replay wedges a partition: a rebuild in place (SQLite, or PostgreSQL with the documented
least-privileged role), a rebuild blue/green, and a checkpoint moved back each find the
letters an earlier run left, skip a skipped event again if it fails again, and take up the
old letter of an event that fails again instead of writing a second one. Some events may
never be skipped: a dead-lettered forgetting of a customer is refused a skip, with a message
that says to fix and retry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from eventlog.models import StoredEvent
from eventlog.recorded import RecordedEvent
from orders.commands import CancelOrder, ConfirmOrder, ForgetCustomer
from orders.customers import customer_stream_id
from projector import shadow
from projector.loop import Projector, all_partitions, read_database, run_batch
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.projection import Projection
from projector.rebuild import rebuild, rebuild_together
from readmodels.models import CustomerOrderStats, OrderDetail, OrderSummary
from readmodels.projections.orders import OrdersProjection
from readmodels.projections.sales import SalesProjection
from tests.factories import CreateOrderFactory
from tests.support.grants import least_privileged
from tests.support.read_side import ON_BOTH_DATABASES, read_models
from tests.support.scenarios import FlakyOrders, create
from writeside.bus import handle

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class PoisonedAt(OrdersProjection):
    """The orders projection with a bug that fires on the events at chosen positions."""

    def __init__(self, positions: set[int]) -> None:
        super().__init__()
        self.positions = positions

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        if any(event.position in self.positions for event in events):
            raise RuntimeError("projection bug")
        super().apply(events, using)


@pytest.fixture(autouse=True)
def manual(settings: Any) -> None:
    """Commands do not project by themselves; the test drives the projector."""
    settings.PROJECTIONS_INLINE = False
    settings.EVENT_SUBSCRIBERS = []
    settings.PROJECTION_MAX_ATTEMPTS = 2
    settings.PROJECTION_RETRY_BASE_SECONDS = 0


def position_of(order: UUID, version: int) -> int:
    return StoredEvent.objects.get(stream_id=str(order), version=version).position


def letters(stream: UUID | str) -> list[tuple[str, str]]:
    rows = DeadLetter.objects.using(read_database()).filter(stream_id=str(stream)).order_by("position")
    return list(rows.values_list("event_type", "status"))


def project(*projections: Projection) -> None:
    """Every partition, the projections sharing each batch, as a worker runs them."""
    by_name = {projection.name: projection for projection in projections}
    for partition in all_partitions():
        while run_batch(partition, by_name, wait=True).more:
            pass


def rewind(*projections: Projection) -> None:
    """Move the projections' checkpoints back to the start (docs/operations.md, "Replaying")."""
    names = [projection.name for projection in projections]
    ProjectionCheckpoint.objects.using(read_database()).filter(projection__in=names).update(position=0)


def skipped_confirmation() -> tuple[UUID, PoisonedAt]:
    """An order whose confirmation the orders projection can never apply, skipped by an
    operator, and another order beside it; returns the order and the (still broken) projection."""
    sick = create()
    handle(ConfirmOrder(order_id=sick))
    create()
    projection = PoisonedAt({position_of(sick, 2)})
    projector = Projector(projection)
    project(projection)
    projector.retry_due()  # the second attempt parks it
    assert letters(sick) == [("OrderConfirmed", "parked")]
    assert projector.retry_stream(str(sick), skip_first=True)
    assert letters(sick) == [("OrderConfirmed", "skipped")]
    return sick, projection


@ON_BOTH_DATABASES
def test_an_in_place_rebuild_keeps_a_skip_of_an_event_that_still_fails(vendor: str) -> None:
    assert connections[read_database()].vendor == vendor
    sick, projection = skipped_confirmation()
    handle(CancelOrder(order_id=sick, reason="late"))  # after the skip: flows
    project(projection)
    live = read_models()
    with least_privileged():
        rebuild(projection)
    assert letters(sick) == [("OrderConfirmed", "skipped")]
    assert read_models() == live


@ON_BOTH_DATABASES
def test_a_rewound_checkpoint_replays_past_a_skip_and_its_partition_keeps_flowing(vendor: str) -> None:
    assert connections[read_database()].vendor == vendor
    sick, projection = skipped_confirmation()
    sales = SalesProjection()
    project(projection, sales)
    rewind(projection, sales)
    handle(CancelOrder(order_id=sick, reason="late"))  # an event of the skipped event's partition
    project(projection, sales)  # the read models and the sales figures share each batch
    assert letters(sick) == [("OrderConfirmed", "skipped")]
    assert OrderSummary.objects.using(read_database()).get(order_id=sick).status == "CANCELLED"
    assert CustomerOrderStats.objects.using(read_database()).get(customer_id="c-1").orders_count == 2


@ON_BOTH_DATABASES
def test_a_replay_that_fails_again_where_a_retry_resolved_takes_up_the_old_letters(vendor: str) -> None:
    assert connections[read_database()].vendor == vendor
    sick = create()
    handle(ConfirmOrder(order_id=sick))
    projection = FlakyOrders(poisoned={str(sick)})
    projector = Projector(projection)
    project(projection)
    projection.poisoned.clear()
    assert projector.retry_stream(str(sick))
    assert letters(sick) == [("OrderCreated", "resolved"), ("OrderConfirmed", "resolved")]

    projection.poisoned.add(str(sick))  # the bug is back, and the log is replayed
    rewind(projection)
    project(projection)
    assert letters(sick) == [("OrderCreated", "retrying"), ("OrderConfirmed", "held")]

    # Its rows gone, so that what the retry applies shows.
    OrderSummary.objects.using(read_database()).filter(order_id=sick).delete()
    OrderDetail.objects.using(read_database()).filter(order_id=sick).delete()
    projection.poisoned.clear()
    assert projector.retry_stream(str(sick))
    # The confirmation held again is applied again, not passed by as resolved.
    assert OrderSummary.objects.using(read_database()).get(order_id=sick).status == "CONFIRMED"
    assert letters(sick) == [("OrderCreated", "resolved"), ("OrderConfirmed", "resolved")]


@pytest.mark.postgres
def test_a_blue_green_rebuild_keeps_a_skip_of_an_event_that_still_fails() -> None:
    sick, projection = skipped_confirmation()
    live = read_models()
    assert shadow.possible(read_database())
    rebuild(projection)
    assert letters(sick) == [("OrderConfirmed", "skipped")]
    assert read_models() == live


@pytest.mark.postgres
def test_a_skip_made_while_a_blue_green_rebuild_runs_survives_its_swap() -> None:
    sick = create()
    handle(ConfirmOrder(order_id=sick))
    handle(CancelOrder(order_id=sick, reason="late"))
    projection = PoisonedAt({position_of(sick, 2)})
    projector = Projector(projection)
    project(projection)
    projector.retry_due()
    assert letters(sick) == [("OrderConfirmed", "parked"), ("OrderCancelled", "held")]

    def phase(step: str) -> None:
        if step == "swapping":
            # The shadow holds its own letters for the confirmation and the cancellation;
            # the operator skips the live one now.
            assert projector.retry_stream(str(sick), skip_first=True)
            assert letters(sick) == [("OrderConfirmed", "skipped"), ("OrderCancelled", "resolved")]

    rebuild_together([projection], phase=phase)
    assert letters(sick) == [("OrderConfirmed", "skipped"), ("OrderCancelled", "resolved")]
    assert OrderSummary.objects.get(order_id=sick).status == "CANCELLED"


@pytest.mark.postgres
def test_a_dead_lettered_forgetting_is_refused_a_skip_and_applies_once_fixed() -> None:
    order = CreateOrderFactory(customer_id="c-forget", customer_email="forget-me@example.org")
    handle(order)
    stream = customer_stream_id("c-forget")
    projection = FlakyOrders(poisoned={stream})
    project(projection)
    assert OrderDetail.objects.get(order_id=order.order_id).customer_email == "forget-me@example.org"
    handle(ForgetCustomer(customer_id="c-forget"))
    project(projection)
    assert letters(stream) == [("CustomerForgotten", "retrying")]
    with pytest.raises(CommandError, match=r"may not skip CustomerForgotten .*Fix the cause, then retry"):
        call_command("dead_letters", "skip", projection="orders", stream=stream)
    assert letters(stream) == [("CustomerForgotten", "retrying")]
    # Fixed (the configured projection has no bug), a retry scrubs the order's rows.
    call_command("dead_letters", "retry", projection="orders", stream=stream)
    assert letters(stream) == [("CustomerForgotten", "resolved")]
    assert OrderDetail.objects.get(order_id=order.order_id).customer_email == ""
