"""backoffice.product.stock_changed.v1 follows stock out with shipments and through counts:
the integration mapping and the products read model's fold, on events a fake log recorded."""

from __future__ import annotations

from uuid import uuid4

from integration import language
from integration.mapping import translate
from inventory.commands import ConsumeStock, ReserveStock
from readmodels.projections.products import fold_product_row
from tests.factories import AdjustStockFactory, ReceiveStockFactory, RegisterProductFactory
from tests.support.fakes import FakeLog, FakeUnitOfWork, PublishedStreams
from writeside.bus import MessageBus


def shipped_and_counted() -> FakeLog:
    log = FakeLog()
    bus = MessageBus(uow_factory=lambda: FakeUnitOfWork(log))
    order = uuid4()
    bus.handle(RegisterProductFactory(sku="A"))
    bus.handle(ReceiveStockFactory(sku="A", quantity=10))
    bus.handle(ReserveStock(sku="A", order_id=order, quantity=4))
    bus.handle(ConsumeStock(sku="A", order_id=order))
    bus.handle(AdjustStockFactory(sku="A", quantity_delta=-2, reason="damaged"))
    return log


def test_consumption_and_adjustment_publish_the_stock_after_them() -> None:
    log = shipped_and_counted()
    published = translate(log.published, PublishedStreams(log))  # type: ignore[arg-type]
    assert [event.type for event in published] == [language.PRODUCT_STOCK_CHANGED] * 4
    assert [(e.data["on_hand"], e.data["reserved"], e.data["available"]) for e in published] == [
        (10, 0, 10),  # received
        (10, 4, 6),  # reserved
        (6, 0, 6),  # consumed: available unchanged
        (4, 0, 4),  # written off
    ]
    assert {event.subject for event in published} == {"A"}


def test_the_products_read_model_folds_the_same_counts() -> None:
    log = shipped_and_counted()
    row = None
    counts = []
    for recorded in log.published:
        row = fold_product_row(row, recorded)
        counts.append((row["on_hand"], row["reserved"], row["available"]))
    assert counts[-2:] == [(6, 0, 6), (4, 0, 4)]
