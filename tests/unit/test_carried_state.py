"""The relay's carried fold gives every public event the payload a fold from the stream's first
event gives it: from any point a batch may start at, through the stored (redacted) form, and
never from a fold that does not end before the batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

import pytest

from eventlog.serialization import from_data
from eventlog.store import EventStore
from integration import language, mapping
from integration.carried_state import StreamFold, shape, stored_form
from integration.mapping import translate, translate_from
from inventory.commands import ConsumeStock, ReleaseStock, ReserveStock
from inventory.events import StockReceived
from orders.commands import CancelOrder, ConfirmOrder, PayOrder, RefundOrder
from tests.factories import (
    AddressFactory,
    AdjustStockFactory,
    ChangeShippingAddressFactory,
    CreateOrderFactory,
    LineItemFactory,
    ReceiveStockFactory,
    RegisterProductFactory,
    total_of,
)
from tests.support.fakes import FakeLog, FakeUnitOfWork, PublishedStreams
from writeside.bus import MessageBus


def streams(log: FakeLog) -> EventStore:
    """The fake log where the mapping takes an event store (it only reads streams)."""
    return cast(EventStore, PublishedStreams(log))


def shop() -> tuple[FakeLog, str, str]:
    """A product moved by every stock event, and an order with personal data paid then cancelled."""
    log = FakeLog()
    bus = MessageBus(uow_factory=lambda: FakeUnitOfWork(log))
    create = CreateOrderFactory(
        customer_email="ada@example.com",
        shipping_address=AddressFactory(name="Ada Lovelace"),
        # A catalog-less line: the order does not wait for the reservation made by hand below.
        # A price of its own: the two refunds below need a total above 1.00.
        items=(LineItemFactory(sku="BOOK-1", quantity=2, unit_price=Decimal("12.50")),),
    )
    bus.handle(RegisterProductFactory(sku="A"))
    bus.handle(ReceiveStockFactory(sku="A", quantity=10))
    bus.handle(create)
    bus.handle(ReserveStock(sku="A", order_id=create.order_id, quantity=2))
    bus.handle(ConfirmOrder(order_id=create.order_id))
    bus.handle(ChangeShippingAddressFactory(order_id=create.order_id, shipping_address=AddressFactory(name="Ada L.")))
    bus.handle(PayOrder(order_id=create.order_id, payment_id="p-1", amount=total_of(create)))
    other = CreateOrderFactory(items=(LineItemFactory(sku="A"),)).order_id
    bus.handle(ReserveStock(sku="A", order_id=other, quantity=3))
    bus.handle(ConsumeStock(sku="A", order_id=other))
    bus.handle(AdjustStockFactory(sku="A", quantity_delta=-1))
    bus.handle(CancelOrder(order_id=create.order_id, reason="changed mind"))
    # Paid back in two parts: each public event carries what is still owed.
    bus.handle(RefundOrder(order_id=create.order_id, refund_id="r-1", amount=Decimal("1.00")))
    bus.handle(RefundOrder(order_id=create.order_id, refund_id="r-2", amount=total_of(create) - Decimal("1.00")))
    bus.handle(ReleaseStock(sku="A", order_id=create.order_id))
    return log, "product:A", str(create.order_id)


def payloads(events: Sequence[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(event.id, event.type, event.data) for event in events]


def stored_and_loaded(fold: StreamFold) -> StreamFold:
    """The fold as the relay's table gives it back."""
    return from_data(json.loads(json.dumps(stored_form(fold))), StreamFold)


def test_every_split_of_the_log_publishes_what_a_fold_from_the_first_event_does() -> None:
    log, _, _ = shop()
    events, store = log.published, streams(log)
    whole = payloads(translate(events, store))
    refunds = [data["refund_due"] for _, type_, data in whole if type_ == language.ORDER_REFUNDED]
    assert len(refunds) == 2
    assert refunds[-1] == "0.00", refunds
    for split in range(1, len(events)):
        _, folds = translate_from(events[:split], store, {})
        carried = {stream: stored_and_loaded(fold) for stream, fold in folds.items()}
        later, _ = translate_from(events[split:], store, carried)
        assert payloads(translate(events[:split], store)) + payloads(later) == whole, split


def test_the_fold_after_a_batch_is_the_state_at_its_streams_last_versions() -> None:
    log, product, order = shop()
    _, folds = translate_from(log.published, streams(log), {})
    assert folds[product].version == max(e.version for e in log.published if e.stream_id == product)
    stock, state = folds[product].product, folds[order].order
    assert stock is not None
    assert (stock.on_hand, stock.reserved) == (6, 0)
    assert state is not None
    assert str(state.status) == "CANCELLED"


@pytest.mark.parametrize("ahead", [0, 3])
def test_a_fold_that_does_not_end_before_the_batch_is_not_used(ahead: int) -> None:
    # As after a replay from an older position: the stored fold is at or past the batch's start.
    log, product, _ = shop()
    events, store = log.published, streams(log)
    batch = [e for e in events if e.stream_id == product][2:5]
    _, folds = translate_from([e for e in events if e.stream_id == product][: 2 + 1 + ahead], store, {})
    assert folds[product].version == batch[0].version + ahead
    replayed, after = translate_from(batch, store, folds)
    assert payloads(replayed) == payloads(translate(batch, store))
    assert after[product].version == batch[-1].version


def test_an_orders_stored_fold_holds_no_personal_data_and_publishes_the_same() -> None:
    log, _, order = shop()
    events, store = log.published, streams(log)
    mine = [e for e in events if e.stream_id == order]
    _, folds = translate_from(mine[:3], store, {})
    state = folds[order].order
    assert state is not None
    assert state.customer_email == "ada@example.com"
    stored = json.dumps(stored_form(folds[order]))
    for personal in ("ada@example.com", "Ada Lovelace", "Ada L."):
        assert personal not in stored
    later, _ = translate_from(mine[3:], store, {order: stored_and_loaded(folds[order])})
    assert payloads(later) == payloads(translate(mine[3:], store))


def test_a_fold_made_while_an_event_type_was_unknown_is_not_used_once_the_mapping_knows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A dead-lettered StockReceived, skipped by a person: the relay's next batch folded past
    # it. A release that learns the type must not start from that fold, which lacks the receipt.
    log, product, _ = shop()
    store = streams(log)
    stock = [e for e in log.published if e.stream_id == product]
    assert stock[1].event_type == "StockReceived"
    monkeypatch.setattr(mapping, "KNOWN", mapping.KNOWN - {StockReceived})
    unknowing = mapping.known_digest()
    _, folds = translate_from(stock[2:3], store, {})
    monkeypatch.undo()
    rest = stock[3:]
    stale, _ = translate_from(rest, store, folds)
    assert payloads(stale) != payloads(translate(rest, store)), "the fold lacks the receipt"
    assert shape(unknowing) != shape(mapping.known_digest()), "so its shape must differ"
