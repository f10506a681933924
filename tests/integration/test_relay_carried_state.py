"""The relay's carried fold (integration/carried_state.py) on the real services: what reaches
a subscriber is the state after each event when a write-side snapshot falls inside a batch,
when the relay replays from position 0, when the broker refuses a batch and it is sent again,
when the customer of an order in flight is forgotten, and when a release learns an event type
whose dead letter was skipped; and the stored fold commits with the checkpoint, holds no
personal data, and is kept only for streams of CARRIED_FROM_VERSION events or more."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from eventlog.models import StoredEvent
from eventlog.store import event_store
from integration import language, mapping
from integration.broker import BrokerUnavailable
from integration.carried_state import CARRIED_FROM_VERSION
from integration.models import CarriedState
from integration.relay import RelayProjection
from inventory.commands import AdjustStock, ConsumeStock, ReleaseStock, ReserveStock
from inventory.events import StockReceived, product_stream
from orders.commands import (
    AddOrderItem,
    ConfirmOrder,
    DeliverOrder,
    ForgetCustomer,
    PayOrder,
    RemoveOrderItem,
    ShipOrder,
)
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
from tests.support.rabbit import (  # noqa: F401 (fixture)  # noqa: F401 (fixtures)
    Subscriber,
    amqp_names,
    own_publisher,
    refusing_queue,
    subscriber,
)
from tests.support.waiting import eventually
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


def long_product(sku: str) -> int:
    """A product at CARRIED_FROM_VERSION: 10 received, then counts up and down (on hand 10,
    nothing reserved); its version."""
    handle(RegisterProductFactory(sku=sku))
    handle(ReceiveStockFactory(sku=sku, quantity=10))
    for count in range(CARRIED_FROM_VERSION - 2):
        handle(AdjustStock(sku=sku, quantity_delta=1 if count % 2 else -1, reason="count"))
    return CARRIED_FROM_VERSION


def later(stock: dict[int, tuple[int, int, int]], than: int) -> dict[int, tuple[int, int, int]]:
    return {sequence: counts for sequence, counts in stock.items() if sequence > than}


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
    sku, short = f"MUG-{uuid4().hex[:6]}", f"PEG-{uuid4().hex[:6]}"
    base = long_product(sku)
    handle(RegisterProductFactory(sku=short))
    relay()
    assert carried_version(product_stream(sku)) == base
    assert carried_version(product_stream(short)) is None, "a short stream is folded from its start"
    first, second = uuid4(), uuid4()
    handle(ReserveStock(sku=sku, order_id=first, quantity=3))  # base + 1
    handle(ReserveStock(sku=sku, order_id=second, quantity=2))  # base + 2: the write side snapshots here
    handle(ConsumeStock(sku=sku, order_id=first))
    handle(AdjustStock(sku=sku, quantity_delta=-1, reason="damaged"))
    handle(ReleaseStock(sku=sku, order_id=second))  # base + 5
    snapshot = event_store().latest_snapshot(product_stream(sku))
    assert snapshot is not None
    assert snapshot.version == base + 2, "the snapshot must fall inside the relay's next batch"
    relay()
    expected = {
        base + 1: (10, 3, 7),
        base + 2: (10, 5, 5),
        base + 3: (7, 2, 5),
        base + 4: (6, 2, 4),
        base + 5: (6, 0, 6),
    }
    subscriber.until(
        lambda _: later(stock(subscriber, sku), base) == expected, timeout=30, message="the stock after each event"
    )
    assert stock(subscriber, sku)[base] == (10, 0, 10)
    assert carried_version(product_stream(sku)) == base + 5

    # Replay from an older position, inside the carried part of the stream: the stored fold
    # (base + 5) is past the batch's first event (base + 3), so it must not be the start.
    stream = product_stream(sku)
    older = StoredEvent.objects.get(stream_id=stream, version=base + 2).position
    ProjectionCheckpoint.objects.filter(projection="relay", position__gt=older).update(position=older)
    handle(AdjustStock(sku=sku, quantity_delta=4, reason="found"))  # base + 6
    delivered = len(subscriber.messages)
    relay()
    subscriber.until(lambda messages: len(messages) >= delivered + 4, timeout=30, message="the replay")
    replayed = sorted(int(m["sequence"]) for m in subscriber.messages[delivered:])
    assert replayed == [base + 3, base + 4, base + 5, base + 6]
    expected[base + 6] = (10, 0, 10)
    assert later(stock(subscriber, sku), base) == expected
    assert copies_agree(subscriber), "a replayed message differs from its first copy"
    assert carried_version(stream) == base + 6

    # Replay from position 0: every event but the registration again, the same data.
    ProjectionCheckpoint.objects.filter(projection="relay").update(position=0)
    handle(AdjustStock(sku=sku, quantity_delta=-5, reason="lost"))  # base + 7
    delivered = len(subscriber.messages)
    relay()
    subscriber.until(lambda messages: len(messages) >= delivered + base + 6, timeout=30, message="the replay")
    assert later(stock(subscriber, sku), base) == {**expected, base + 7: (5, 0, 5)}
    assert copies_agree(subscriber), "a replayed message differs from its first copy"
    assert carried_version(stream) == base + 7


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
    base = long_product(sku)
    relay()
    order = uuid4()
    handle(ReserveStock(sku=sku, order_id=order, quantity=2))
    handle(ConsumeStock(sku=sku, order_id=order))
    with refusing_queue(amqp_names["INTEGRATION_EVENTS_EXCHANGE"]) as remove:
        with pytest.raises(BrokerUnavailable):
            relay()
        # Rolled back with the checkpoint: the fold is still the one before the refused batch.
        assert carried_version(product_stream(sku)) == base
        remove()

        def sent() -> bool:
            try:
                relay()
            except BrokerUnavailable:
                return False
            return True

        eventually(sent, message="the relay to publish once the refusal ends")
    expected = {base + 1: (10, 2, 8), base + 2: (8, 0, 8)}
    subscriber.until(
        lambda _: later(stock(subscriber, sku), base) == expected, timeout=30, message="the stock after each event"
    )
    assert copies_agree(subscriber)
    assert carried_version(product_stream(sku)) == base + 2
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
    # A customer who changed their mind many times: an order long enough to be carried.
    while event_store().stream_version(order) < CARRIED_FROM_VERSION - 2:
        handle(AddOrderItem(order_id=create.order_id, sku="EXTRA", quantity=1, unit_price=Decimal("1.00")))
        handle(RemoveOrderItem(order_id=create.order_id, sku="EXTRA"))
    confirmed = event_store().stream_version(order) + 1
    handle(ConfirmOrder(order_id=create.order_id))
    handle(PayOrder(order_id=create.order_id, payment_id="p-1", amount=total_of(create)))
    relay()
    assert carried_version(order) == confirmed + 1

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
        confirmed: (language.ORDER_CONFIRMED, "CONFIRMED", "25.00"),
        confirmed + 1: (language.ORDER_PAID, "PAID", ""),
        confirmed + 2: (language.ORDER_SHIPPED, "SHIPPED", ""),
        confirmed + 3: (language.ORDER_DELIVERED, "DELIVERED", ""),
    }
    subscriber.until(lambda messages: of_order(messages) == expected, timeout=30, message="the order's events")
    assert carried_version(order) == confirmed + 3
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
    base = long_product(sku)  # the receipt (v2) parked, the counts held behind it
    relay()
    assert Projector(RelayProjection()).retry_stream(product_stream(sku), skip_first=True)
    assert carried_version(product_stream(sku)) == base
    subscriber.until(lambda _: base in stock(subscriber, sku), timeout=30, message="the held counts")

    monkeypatch.undo()  # the next release knows the type again
    handle(ReserveStock(sku=sku, order_id=uuid4(), quantity=2))
    relay()
    subscriber.until(lambda _: base + 1 in stock(subscriber, sku), timeout=30, message="the reservation")
    assert stock(subscriber, sku)[base + 1] == (10, 2, 8), "folded from a fold that lacks the receipt"
