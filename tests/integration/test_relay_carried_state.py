"""The relay's carried fold (integration/carried_state.py) on the real services: what reaches
a subscriber is the state after each event when a write-side snapshot falls inside a batch,
when the relay replays from position 0, when the broker refuses a batch and it is sent again,
when the customer of an order in flight is forgotten, and when a release learns an event type
whose dead letter was skipped; and the stored fold commits with
the checkpoint and holds no personal data."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from eventlog.store import event_store
from integration import language, mapping
from integration.broker import BrokerUnavailable
from integration.models import CarriedState
from integration.relay import RelayProjection
from inventory.commands import AdjustStock, ConsumeStock, ReleaseStock, ReserveStock
from inventory.domain import product_stream
from inventory.events import StockReceived
from orders.commands import ConfirmOrder, DeliverOrder, ForgetCustomer, PayOrder, ShipOrder
from projector.loop import Projector, all_partitions
from projector.models import DeadLetter, ProjectionCheckpoint
from tests.factories import (
    AddressFactory,
    CreateOrderFactory,
    LineItemFactory,
    ReceiveStockFactory,
    RegisterProductFactory,
    total_of,
)
from tests.integration.conftest import eventually
from tests.integration.rabbit import (  # noqa: F401 (fixtures)
    Subscriber,
    amqp_names,
    subscriber,
)
from tests.integration.test_relay import own_publisher, refusing_queue  # noqa: F401 (fixture)
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def relay() -> None:
    """Catch the relay up on every partition in this process."""
    projector = Projector(RelayProjection())
    for partition in all_partitions():
        projector.catch_up(partition)


def stock(sub: Subscriber, sku: str) -> dict[int, tuple[int, int, int]]:
    """sequence → (on_hand, reserved, available) of the SKU's distinct stock_changed messages."""
    return {
        int(m["sequence"]): (m["data"]["on_hand"], m["data"]["reserved"], m["data"]["available"])
        for m in sub.distinct().values()
        if m["type"] == language.PRODUCT_STOCK_CHANGED and m["subject"] == sku
    }


def carried_version(stream_id: str) -> int | None:
    return CarriedState.objects.filter(stream_id=stream_id).values_list("version", flat=True).first()


def copies_agree(sub: Subscriber) -> bool:
    """Every copy of a message (a redelivery, a replay) carries the same data as the first."""
    first: dict[str, Any] = {}
    return all(first.setdefault(m["id"], m["data"]) == m["data"] for m in sub.messages)


def test_a_snapshot_inside_a_batch_and_a_replay_from_position_zero_publish_the_stock_after_each_event(
    subscriber: Subscriber,  # noqa: F811
    settings: Any,
    own_publisher: None,  # noqa: F811
) -> None:
    settings.SNAPSHOT_EVERY = 4
    sku = f"MUG-{uuid4().hex[:6]}"
    handle(RegisterProductFactory(sku=sku))
    handle(ReceiveStockFactory(sku=sku, quantity=10))  # v2
    relay()
    assert carried_version(product_stream(sku)) == 2
    first, second = uuid4(), uuid4()
    handle(ReserveStock(sku=sku, order_id=first, quantity=3))  # v3
    handle(ReserveStock(sku=sku, order_id=second, quantity=2))  # v4: the write side snapshots here
    handle(ConsumeStock(sku=sku, order_id=first))  # v5
    handle(AdjustStock(sku=sku, quantity_delta=-1, reason="damaged"))  # v6
    handle(ReleaseStock(sku=sku, order_id=second))  # v7
    snapshot = event_store().latest_snapshot(product_stream(sku))
    assert snapshot is not None
    assert snapshot.version == 4, "the snapshot must fall inside the relay's next batch"
    relay()
    expected = {2: (10, 0, 10), 3: (10, 3, 7), 4: (10, 5, 5), 5: (7, 2, 5), 6: (6, 2, 4), 7: (6, 0, 6)}
    subscriber.until(lambda _: stock(subscriber, sku) == expected, timeout=30, message="the stock after each event")
    assert carried_version(product_stream(sku)) == 7

    # Replay from position 0: the stored fold (v7) is past the replayed events; one more event
    # on top of the replay must count from the right state too.
    ProjectionCheckpoint.objects.filter(projection="relay").update(position=0)
    handle(AdjustStock(sku=sku, quantity_delta=4, reason="found"))  # v8
    delivered = len(subscriber.messages)
    relay()
    subscriber.until(lambda messages: len(messages) >= delivered + 7, timeout=30, message="the replay")
    assert stock(subscriber, sku) == {**expected, 8: (10, 0, 10)}
    assert copies_agree(subscriber), "a replayed message differs from its first copy"
    assert carried_version(product_stream(sku)) == 8


@pytest.fixture
def quick_backoff(settings: Any) -> None:
    settings.INTEGRATION_PUBLISH_BACKOFF_SECONDS = settings.INTEGRATION_PUBLISH_BACKOFF_MAX_SECONDS = 0.2


def test_a_refused_batch_keeps_the_fold_it_started_from_and_is_sent_again_with_the_same_state(
    amqp_names: dict[str, str],  # noqa: F811
    subscriber: Subscriber,  # noqa: F811
    own_publisher: None,  # noqa: F811
    quick_backoff: None,
) -> None:
    sku = f"CUP-{uuid4().hex[:6]}"
    handle(RegisterProductFactory(sku=sku))
    handle(ReceiveStockFactory(sku=sku, quantity=5))
    relay()
    order = uuid4()
    handle(ReserveStock(sku=sku, order_id=order, quantity=2))
    handle(ConsumeStock(sku=sku, order_id=order))
    with refusing_queue(amqp_names["INTEGRATION_EVENTS_EXCHANGE"]) as remove:
        with pytest.raises(BrokerUnavailable):
            relay()
        # Rolled back with the checkpoint: the fold is still the one before the refused batch.
        assert carried_version(product_stream(sku)) == 2
        remove()

        def sent() -> bool:
            try:
                relay()
            except BrokerUnavailable:
                return False
            return True

        eventually(sent, message="the relay to publish once the refusal ends")
    expected = {2: (5, 0, 5), 3: (5, 2, 3), 4: (3, 0, 3)}
    subscriber.until(lambda _: stock(subscriber, sku) == expected, timeout=30, message="the stock after each event")
    assert copies_agree(subscriber)
    assert carried_version(product_stream(sku)) == 4
    assert not DeadLetter.objects.filter(projection="relay").exists()


def test_an_order_whose_customer_is_forgotten_in_flight_publishes_its_state_and_its_fold_holds_no_personal_data(
    subscriber: Subscriber,  # noqa: F811
    own_publisher: None,  # noqa: F811
) -> None:
    create = CreateOrderFactory(
        customer_id=f"c-{uuid4().hex[:6]}",
        customer_email="grace@example.com",
        shipping_address=AddressFactory(name="Grace Hopper"),
        # A catalog-less line: the order does not wait for a stock reservation.
        items=(LineItemFactory(sku="GIFT-CARD", quantity=2, unit_price=Decimal("12.50")),),
    )
    order = str(create.order_id)
    handle(create)
    handle(ConfirmOrder(order_id=create.order_id))
    handle(PayOrder(order_id=create.order_id, payment_id="p-1", amount=total_of(create)))
    relay()
    assert carried_version(order) == 3

    def stored() -> str:
        return json.dumps(CarriedState.objects.get(stream_id=order).state)

    for personal in ("grace@example.com", "Grace Hopper"):
        assert personal not in stored()
    handle(ForgetCustomer(customer_id=create.customer_id))
    handle(ShipOrder(order_id=create.order_id, tracking_number="T-1", carrier="DHL"))
    handle(DeliverOrder(order_id=create.order_id))
    relay()

    def of_order(messages: list[dict[str, Any]]) -> dict[int, tuple[str, str, str]]:
        return {
            int(m["sequence"]): (m["type"], m["data"]["status"], m["data"].get("total", ""))
            for m in messages
            if m["subject"] == order
        }

    expected = {
        1: (language.ORDER_PLACED, "PENDING", "25.00"),
        2: (language.ORDER_CONFIRMED, "CONFIRMED", "25.00"),
        3: (language.ORDER_PAID, "PAID", ""),
        4: (language.ORDER_SHIPPED, "SHIPPED", ""),
        5: (language.ORDER_DELIVERED, "DELIVERED", ""),
    }
    subscriber.until(lambda messages: of_order(messages) == expected, timeout=30, message="the order's events")
    assert carried_version(order) == 5
    for personal in ("grace@example.com", "Grace Hopper"):
        assert personal not in stored()


def test_a_fold_that_passed_a_skipped_unknown_event_is_not_used_once_a_release_knows_its_type(
    subscriber: Subscriber,  # noqa: F811
    own_publisher: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A release whose published language lost StockReceived: the receipt is parked, then
    # skipped by a person, and the relay folds past it for the events held behind it.
    monkeypatch.setattr(mapping, "KNOWN", mapping.KNOWN - {StockReceived})
    sku = f"JUG-{uuid4().hex[:6]}"
    handle(RegisterProductFactory(sku=sku))
    handle(ReceiveStockFactory(sku=sku, quantity=10))  # v2: parked
    handle(ReserveStock(sku=sku, order_id=uuid4(), quantity=3))  # v3: held behind it
    relay()
    assert Projector(RelayProjection()).retry_stream(product_stream(sku), skip_first=True)
    assert carried_version(product_stream(sku)) == 3
    subscriber.until(lambda _: 3 in stock(subscriber, sku), timeout=30, message="the held reservation")

    monkeypatch.undo()  # the next release knows the type again
    handle(ReserveStock(sku=sku, order_id=uuid4(), quantity=2))  # v4
    relay()
    subscriber.until(lambda _: 4 in stock(subscriber, sku), timeout=30, message="the next reservation")
    assert stock(subscriber, sku)[4] == (10, 5, 5), "folded from a fold that lacks the receipt"
