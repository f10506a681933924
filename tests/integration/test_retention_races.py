"""Retention against what acts on the same rows at the same moment, on real PostgreSQL: a retry
of an expiring command, the fulfilment process manager replaying after its records expired, a
dead letter re-opened or failing again while the policy removes it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from django.db import connections, transaction
from django.db.models.query import QuerySet
from django.utils import timezone

from eventlog.models import CommandRecord, StoredEvent
from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore
from fulfilment.models import FulfilmentProcess
from inventory.commands import ReceiveStock
from inventory.events import product_stream
from orders.commands import CancelOrder, ConfirmOrder, CreateOrder, LineItem, PayOrder, ShipOrder
from projector.dead_letters import hold, record_failure
from projector.loop import all_partitions, read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.running import run_partition
from readmodels.models import ProductStock
from retention.policies import prune
from tests.factories import DeadLetterFactory, RegisterProductFactory
from tests.support.convergence import converged
from tests.support.expiry import DAY, backdate_all_records, backdate_records, log_rows, receive
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inline(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True


def test_a_retry_racing_its_records_expiry_is_answered_once_or_run_once_never_twice() -> None:
    handle(RegisterProductFactory(sku="RACE"))
    rounds, retries = 6, 4
    commands = [f"race-{round_}" for round_ in range(rounds)]
    for command_id in commands:
        receive("RACE", 1, command_id=command_id)
    errors: list[BaseException] = []

    def alone(work: Callable[[], object], barrier: threading.Barrier) -> threading.Thread:
        def run() -> None:
            try:
                barrier.wait()
                work()
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    for command_id in commands:
        backdate_records({command_id: 31 * DAY})
        barrier = threading.Barrier(retries + 1)
        threads = [alone(partial(receive, "RACE", 1, command_id), barrier) for _ in range(retries)]
        threads.append(alone(lambda: prune(["command-records"], batch_size=1), barrier))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []
    runs = dict.fromkeys(commands, 0)
    received = StoredEvent.objects.filter(stream_id=product_stream("RACE"), event_type="StockReceived")
    for command_id in received.values_list("metadata__command_id", flat=True):
        if command_id in runs:
            runs[command_id] += 1
    # However many retries raced the expiry, each command ran once, and at most once more (a
    # retry that came after its record expired is a new command): then its new record stands;
    # otherwise every retry was answered from the old record, which then expired.
    for command_id, count in runs.items():
        assert count in (1, 2), runs
        assert CommandRecord.objects.filter(command_id=command_id).count() == count - 1, runs


def stock(sku: str, on_hand: int) -> None:
    handle(RegisterProductFactory(sku=sku))
    handle(ReceiveStock(sku=sku, quantity=on_hand))


def order(*lines: tuple[str, int]) -> UUID:
    create = CreateOrder(
        customer_id="c-1",
        currency="EUR",
        items=tuple(LineItem(sku=sku, quantity=quantity, unit_price=Decimal("5.00")) for sku, quantity in lines),
    )
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id))
    return create.order_id


def world() -> tuple[list[tuple[int, str]], list[tuple[str, str, dict[str, str]]], list[tuple[str, int, int]]]:
    """The log, the process manager's state and the products' stock."""
    processes = sorted((str(p.order_id), p.status, p.lines) for p in FulfilmentProcess.objects.all())
    products = sorted(ProductStock.objects.values_list("sku", "on_hand", "reserved"))
    return log_rows(), processes, products


def replay_fulfilment() -> None:
    ProjectionCheckpoint.objects.filter(projection="fulfilment").update(position=0)
    while any(run_partition(partition) for partition in all_partitions()):
        pass
    assert converged()


@pytest.mark.usefixtures("inline")
def test_a_process_manager_replay_after_its_command_records_expired_sends_nothing_twice() -> None:
    stock("A", 4)
    stock("B", 2)
    reserved = order(("A", 1), ("B", 1))
    out_of_stock = order(("A", 1), ("B", 5))
    cancelled = order(("A", 2))
    handle(CancelOrder(order_id=cancelled, reason="changed my mind"))
    paid = order(("A", 1))
    handle(PayOrder(order_id=paid, payment_id="p-1", amount=Decimal("5.00")))
    handle(ShipOrder(order_id=paid, tracking_number="T-1", carrier="DHL"))
    before = world()
    # The shipped order's reservation was consumed: its process is SHIPPED, the other RESERVED.
    assert sorted(status for _, status, _ in before[1]) == ["OUT_OF_STOCK", "RELEASED", "RESERVED", "SHIPPED"]
    assert {str(reserved), str(out_of_stock)} <= {order_id for order_id, _, _ in before[1]}
    backdate_all_records(31 * DAY)

    # The pair: the replay runs while the records of the commands it re-derives expire.
    expiring = threading.Thread(target=elsewhere, args=(partial(prune, ["command-records"], batch_size=3),))
    expiring.start()
    replay_fulfilment()
    expiring.join(timeout=60)
    prune(["command-records"])
    assert not CommandRecord.objects.filter(
        command_id__startswith="fulfilment:", recorded_at__lt=timezone.now() - DAY
    ).exists()
    # And again with every record of the first run gone: the process's own state and the
    # aggregates' rules make each re-sent command change nothing. The shipped order's process
    # is put back to before its shipment (a restored backup), so the replay does re-send its
    # ConsumeStock with no record to answer it: the product, holding no reservation for the
    # order any more, records nothing.
    backdate_all_records(31 * DAY)
    prune(["command-records"])
    assert not CommandRecord.objects.filter(command_id__startswith="fulfilment:").exists()
    FulfilmentProcess.objects.filter(order_id=paid).update(status="RESERVED", lines={"A": "RESERVED"})
    replay_fulfilment()
    assert world() == before
    # It did send its commands again (recorded anew), and none of them changed anything.
    assert CommandRecord.objects.filter(command_id__startswith="fulfilment:").exists()


def events_of(stream_id: str) -> list[RecordedEvent]:
    return EventStore().read_stream(stream_id)


@pytest.fixture
def resolved_letter(settings: Any) -> tuple[RecordedEvent, int]:
    """An order's event with an old letter, resolved by a retry 31 days ago."""
    settings.DEAD_LETTER_RETENTION_DAYS = 30
    create = CreateOrder(
        customer_id="c-1", currency="EUR", items=(LineItem(sku="X", quantity=1, unit_price=Decimal(1)),)
    )
    handle(create)
    event = events_of(str(create.order_id))[0]
    letter = DeadLetterFactory(
        projection="orders",
        position=event.position,
        event_id=event.event_id,
        event_type=event.event_type,
        stream_id=event.stream_id,
    )
    DeadLetter.objects.filter(pk=letter.pk).update(last_failed_at=timezone.now() - 31 * DAY)
    return event, letter.pk


def elsewhere(work: Callable[[], Any]) -> Any:
    """`work`'s result, run on a connection of its own (another thread's)."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(work())
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)
    return results[0]


def pruning_between(method: str) -> Callable[[], None]:
    """Run the dead-letter policy on another connection right after the next `method` of a
    queryset (the moment between hold's two statements), and wait for it to commit."""
    original = getattr(QuerySet, method)
    done = threading.Event()

    def patched(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if self.model is DeadLetter and not done.is_set():
            done.set()
            elsewhere(lambda: prune(["dead-letters"]))
        return result

    setattr(QuerySet, method, patched)
    return lambda: setattr(QuerySet, method, original)


@pytest.mark.parametrize("method", ["update", "bulk_create"])
def test_a_resolved_letter_held_again_by_a_replay_is_never_pruned_from_under_it(
    resolved_letter: tuple[RecordedEvent, int], method: str
) -> None:
    event, _pk = resolved_letter
    using = read_database()
    restore = pruning_between(method)
    try:
        with transaction.atomic(using=using):
            hold("orders", [event], using)
    finally:
        restore()
    # Whichever statement the prune came between, the event is held behind a letter.
    assert list(DeadLetter.objects.filter(position=event.position).values_list("status", flat=True)) == ["held"]


def test_a_resolved_letter_failing_again_while_pruned_is_written_anew(
    resolved_letter: tuple[RecordedEvent, int],
) -> None:
    event, pk = resolved_letter
    using = read_database()
    letter = DeadLetter.objects.get(pk=pk)  # what a replay read before the prune removed it
    assert prune(["dead-letters"]) == {"dead-letters": 1}
    letter.attempts = 0
    record_failure("orders", event, ValueError("again"), using, letter)
    assert list(DeadLetter.objects.filter(position=event.position).values_list("status", "attempts")) == [
        ("retrying", 1)
    ]


def test_a_letter_resolved_while_the_policy_runs_is_kept(resolved_letter: tuple[RecordedEvent, int]) -> None:
    event, pk = resolved_letter
    using = read_database()
    # A parked letter being retried holds its row; the policy skips it, and once resolved it
    # is fresh (its resolution moved last_failed_at).
    DeadLetter.objects.filter(pk=pk).update(status=DeadLetter.Status.PARKED)
    with transaction.atomic(using=using):
        letter = DeadLetter.objects.select_for_update().get(pk=pk)
        assert elsewhere(lambda: prune(["dead-letters"])) == {"dead-letters": 0}
        letter.status = DeadLetter.Status.RESOLVED
        letter.save(update_fields=["status", "last_failed_at"])
    assert prune(["dead-letters"]) == {"dead-letters": 0}
    assert DeadLetter.objects.get(pk=pk).status == "resolved"
    assert event.position == DeadLetter.objects.get(pk=pk).position
