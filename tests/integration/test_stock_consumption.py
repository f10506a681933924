"""Shipping consumes stock exactly once, on the real services: the fulfilment process manager
on a Celery worker under redelivery and replay, racing a cancellation, a reservation landing
after the shipment, and the one-off consumption of orders shipped before it did."""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

import pytest
from django.core.management import call_command
from django.db import connections

from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore
from fulfilment.manager import FulfilmentProcessManager
from fulfilment.models import FulfilmentProcess
from fulfilment.shipped_before import shipped_backlog
from inventory.commands import ConsumeStock
from inventory.events import product_stream
from kernel.errors import DomainError
from orders.commands import CancelOrder, MarkStockReserved, PayOrder, ShipOrder
from projector.models import ProjectionCheckpoint
from projector.rebuild_progress import rebuild_by_name
from projector.tasks import project_partition
from readmodels.models import ProductStock
from tests.factories import AdjustStockFactory
from tests.support.convergence import converged
from tests.support.scenarios import has, order, row, stock, types
from tests.support.services import Service
from tests.support.waiting import eventually
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WORKER = pytest.mark.worker


def paid(*lines: tuple[str, int], worker: Service) -> UUID:
    order_id, total = order(*lines)
    eventually(has(order_id, "OrderStockReserved"), message="the reservation", log=worker.log)
    handle(PayOrder(order_id=order_id, payment_id=f"p-{order_id}", amount=total))
    return order_id


def consumed(sku: str) -> int:
    return types(product_stream(sku)).count("StockConsumed")


def ring_replay_from_zero(worker: Service) -> None:
    """Replay the process manager from checkpoint 0, every partition's doorbell rung thrice."""
    ProjectionCheckpoint.objects.filter(projection="fulfilment").update(position=0)
    for _ in range(3):
        for partition in range(4):
            project_partition.apply_async((partition,))
    eventually(converged, message="the replay to reach the head", log=worker.log)


@WORKER
def test_shipping_consumes_each_line_once_under_replay(worker: Service) -> None:
    stock("A", 10)
    stock("B", 5)
    order_id = paid(("A", 4), ("B", 1), ("UNTRACKED", 2), worker=worker)
    handle(ShipOrder(order_id=order_id, tracking_number="T-1", carrier="DHL"))
    eventually(lambda: consumed("A") == consumed("B") == 1, message="both lines consumed", log=worker.log)
    eventually(converged, message="convergence", log=worker.log)
    assert (row("A"), row("B")) == ((6, 0, 6), (4, 0, 4))
    assert FulfilmentProcess.objects.get(order_id=order_id).status == "SHIPPED"
    head = EventStore().head_position()
    # The consumption names its story and its cause: the shipment.
    shipped = next(e for e in EventStore().read_stream(str(order_id)) if e.event_type == "OrderShipped")
    consumption = next(e for e in EventStore().read_stream(product_stream("A")) if e.event_type == "StockConsumed")
    assert consumption.metadata["causation_id"] == str(shipped.event_id)

    for _ in range(2):
        ring_replay_from_zero(worker)
    assert EventStore().head_position() == head
    assert (row("A"), row("B")) == ((6, 0, 6), (4, 0, 4))


@WORKER
def test_a_process_state_restored_from_before_the_shipment_consumes_nothing_twice(worker: Service) -> None:
    # Restored from a backup taken before the shipment, the process sends the same ConsumeStock
    # again and the command records answer it; a ConsumeStock they do not know (a new id)
    # finds no reservation for the order any more and records nothing either.
    stock("A", 10)
    order_id = paid(("A", 3), worker=worker)
    before = FulfilmentProcess.objects.filter(order_id=order_id).values("status", "lines").get()
    handle(ShipOrder(order_id=order_id, tracking_number="T-1", carrier="DHL"))
    eventually(lambda: consumed("A") == 1, message="the consumption", log=worker.log)
    eventually(converged, message="convergence", log=worker.log)
    head = EventStore().head_position()
    FulfilmentProcess.objects.filter(order_id=order_id).update(**before)
    ring_replay_from_zero(worker)
    assert FulfilmentProcess.objects.get(order_id=order_id).status == "SHIPPED"
    assert EventStore().head_position() == head
    handle(ConsumeStock(sku="A", order_id=order_id))
    assert EventStore().head_position() == head
    assert consumed("A") == 1
    assert row("A") == (7, 0, 7)


@WORKER
def test_cancel_racing_ship_leaves_the_books_balanced(worker: Service) -> None:
    stock("A", 10)
    orders = [paid(("A", 1), worker=worker) for _ in range(4)]
    errors: list[BaseException] = []

    def attempt(command: Callable[[], object], barrier: threading.Barrier) -> None:
        try:
            barrier.wait(10)
            command()
        except DomainError:
            pass  # the loser of the race: the order moved on first
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connections.close_all()  # this thread's connections to every database

    for order_id in orders:
        barrier = threading.Barrier(2)
        ship = lambda o=order_id: handle(ShipOrder(order_id=o, tracking_number="T", carrier="DHL"))  # noqa: E731
        cancel = lambda o=order_id: handle(CancelOrder(order_id=o, reason="changed my mind"))  # noqa: E731
        threads = [threading.Thread(target=attempt, args=(command, barrier)) for command in (ship, cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not errors
    eventually(converged, message="convergence", log=worker.log)
    # A paid order's cancellation is followed by the refund it owes (RefundOwed): the fate is
    # whichever of the two transitions won, wherever it stands in the stream.
    transitions = {order_id: {"OrderShipped", "OrderCancelled"} & set(types(order_id)) for order_id in orders}
    assert all(len(won) == 1 for won in transitions.values()), transitions
    fates = {order_id: won.pop() for order_id, won in transitions.items()}
    shipped = sum(fate == "OrderShipped" for fate in fates.values())
    eventually(lambda: consumed("A") == shipped, message="each shipment consumed", log=worker.log)
    eventually(converged, message="convergence", log=worker.log)
    # Every unit is on the shelf or in a parcel, and nothing stays promised.
    assert row("A") == (10 - shipped, 0, 10 - shipped)
    assert types(product_stream("A")).count("StockReleased") == len(orders) - shipped


def manual(order_id: UUID, event_type: str, stream: str | None = None) -> RecordedEvent:
    return next(e for e in EventStore().read_stream(stream or str(order_id)) if e.event_type == event_type)


def test_a_reservation_seen_after_the_shipment_is_consumed_once(worker_env: None) -> None:
    # No worker: the test hands the process manager the events in the order it chooses, as
    # partitions lagging differently would. The order is paid and shipped with its process
    # still waiting for B's reservation (as a state restored from before it would be).
    stock("A", 5)
    stock("B", 5)
    order_id, total = order(("A", 1), ("B", 2))
    manager = FulfilmentProcessManager()
    manager.apply([manual(order_id, "OrderConfirmed")], "default")
    reserved_a = manual(order_id, "StockReserved", product_stream("A"))
    reserved_b = manual(order_id, "StockReserved", product_stream("B"))
    handle(MarkStockReserved(order_id=order_id))
    handle(PayOrder(order_id=order_id, payment_id="p-1", amount=total))
    handle(ShipOrder(order_id=order_id, tracking_number="T-1", carrier="DHL"))
    shipped = manual(order_id, "OrderShipped")

    manager.apply([reserved_a, shipped], "default")
    assert (consumed("A"), consumed("B")) == (1, 0)
    assert FulfilmentProcess.objects.get(order_id=order_id).lines == {"A": "CONSUMED", "B": "PENDING"}
    manager.apply([reserved_b], "default")
    assert (consumed("A"), consumed("B")) == (1, 1)
    # Everything again, in any order: nothing more.
    head = EventStore().head_position()
    manager.apply([shipped, reserved_b, reserved_a, shipped], "default")
    assert EventStore().head_position() == head


def test_an_order_without_tracked_skus_ships_without_a_process(worker_env: None) -> None:
    order_id, total = order(("UNTRACKED", 1))
    handle(PayOrder(order_id=order_id, payment_id="p-1", amount=total))
    handle(ShipOrder(order_id=order_id, tracking_number="T-1", carrier="DHL"))
    head = EventStore().head_position()
    FulfilmentProcessManager().apply(EventStore().read_all(), "default")
    assert not FulfilmentProcess.objects.filter(order_id=order_id).exists()
    assert EventStore().head_position() == head


def test_orders_shipped_before_consumption_are_consumed_once_by_the_command(worker_env: None) -> None:
    # Shipped while nothing consumed stock: the process still says RESERVED.
    stock("A", 10)
    manager = FulfilmentProcessManager()
    old, old_total = order(("A", 3))
    open_order, _ = order(("A", 2))
    manager.apply([manual(old, "OrderConfirmed"), manual(open_order, "OrderConfirmed")], "default")
    reservations = [e for e in EventStore().read_stream(product_stream("A")) if e.event_type == "StockReserved"]
    manager.apply(reservations, "default")
    handle(PayOrder(order_id=old, payment_id="p-old", amount=old_total))
    handle(ShipOrder(order_id=old, tracking_number="T-old", carrier="DHL"))
    assert FulfilmentProcess.objects.get(order_id=old).status == "RESERVED"

    assert (shipped_backlog().orders, shipped_backlog().units) == (1, 3)
    call_command("consume_shipped_stock", "--dry-run")
    assert consumed("A") == 0
    for _ in range(2):
        call_command("consume_shipped_stock")
    assert consumed("A") == 1
    assert FulfilmentProcess.objects.get(order_id=old).status == "SHIPPED"
    assert FulfilmentProcess.objects.get(order_id=open_order).status == "RESERVED"
    assert shipped_backlog().orders == 0
    # The worker seeing the same shipment later decides nothing more.
    head = EventStore().head_position()
    manager.apply([manual(old, "OrderShipped")], "default")
    assert EventStore().head_position() == head


def stock_rows() -> list[tuple[str, int, int, int, int]]:
    return list(ProductStock.objects.order_by("sku").values_list("sku", "on_hand", "reserved", "available", "version"))


@WORKER
def test_rebuilding_the_read_models_keeps_consumed_and_adjusted_stock_and_sends_nothing(worker: Service) -> None:
    stock("A", 10)
    shipped = paid(("A", 3), worker=worker)
    open_order = paid(("A", 2), worker=worker)
    handle(ShipOrder(order_id=shipped, tracking_number="T-1", carrier="DHL"))
    handle(AdjustStockFactory(sku="A", quantity_delta=-1, reason="damaged"))
    eventually(lambda: consumed("A") == 1, message="the consumption", log=worker.log)
    eventually(converged, message="convergence", log=worker.log)
    assert stock_rows()[0][1:4] == (6, 2, 4)
    before, head = stock_rows(), EventStore().head_position()
    rebuild_by_name(["products"])
    assert stock_rows() == before
    assert EventStore().head_position() == head
    with pytest.raises(ValueError, match="fulfilment"):
        rebuild_by_name(["fulfilment"])
    assert FulfilmentProcess.objects.get(order_id=open_order).status == "RESERVED"


def test_a_batch_that_starts_the_process_and_ships_the_order_consumes_once(worker_env: None) -> None:
    # The process's row is lost (a state restored from before the order's confirmation) and
    # its confirmation, reservation and shipment come back in one batch: the shipment must
    # not be passed over for want of a row that the same batch creates.
    stock("A", 5)
    order_id, total = order(("A", 2))
    manager = FulfilmentProcessManager()
    confirmed = manual(order_id, "OrderConfirmed")
    manager.apply([confirmed], "default")
    reserved = manual(order_id, "StockReserved", product_stream("A"))
    manager.apply([reserved], "default")
    handle(PayOrder(order_id=order_id, payment_id="p-1", amount=total))
    handle(ShipOrder(order_id=order_id, tracking_number="T-1", carrier="DHL"))
    FulfilmentProcess.objects.filter(order_id=order_id).delete()
    batch = [confirmed, reserved, manual(order_id, "OrderShipped")]
    assert not manager.can_share(batch)
    manager.apply(batch, "default")
    assert consumed("A") == 1
    assert FulfilmentProcess.objects.get(order_id=order_id).status == "SHIPPED"
    manager.apply(batch, "default")
    assert consumed("A") == 1


def test_only_the_shipment_of_an_order_holding_stock_takes_the_process_its_own_transaction(
    worker_env: None,
) -> None:
    stock("A", 5)
    tracked, tracked_total = order(("A", 2))
    untracked, untracked_total = order(("UNTRACKED", 1))
    manager = FulfilmentProcessManager()
    manager.apply([manual(tracked, "OrderConfirmed")], "default")
    manager.apply([manual(tracked, "StockReserved", product_stream("A"))], "default")
    for order_id, total in ((tracked, tracked_total), (untracked, untracked_total)):
        handle(PayOrder(order_id=order_id, payment_id=f"p-{order_id}", amount=total))
        handle(ShipOrder(order_id=order_id, tracking_number="T", carrier="DHL"))
    # An order tracking no stock ships in the read models' shared batch, without the lock.
    assert manager.can_share([manual(untracked, "OrderShipped")])
    assert not manager.can_share([manual(tracked, "OrderShipped"), manual(untracked, "OrderShipped")])
    manager.apply([manual(tracked, "OrderShipped")], "default")
    # Once consumed, its shipment replayed holds nothing either.
    assert manager.can_share([manual(tracked, "OrderShipped")])
