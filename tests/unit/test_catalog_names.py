"""Product names on order lines, folded from two streams in every order, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from typing import Any
from uuid import UUID, uuid4

from eventlog.recorded import RecordedEvent
from inventory.events import ProductRegistered, ProductRenamed, StockReceived
from orders.events import OrderCreated, OrderItemAdded, OrderLine
from readmodels.projections.base import advance_stream
from readmodels.projections.catalog_names import Catalog, fold_catalog, name_lines, names_product
from readmodels.projections.order_view import View, fold_order_view
from tests.factories import recorded_event

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def recorded(event: Any, stream_id: str, stream_type: str, version: int) -> RecordedEvent:
    return recorded_event(
        event,
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        position=version,
        recorded_at=T0 + timedelta(hours=version),
    )


def order_stream(order_id: UUID) -> list[RecordedEvent]:
    lines = (OrderLine(sku="A", quantity=1, unit_price=Decimal("5.00")),)
    created = OrderCreated(order_id=order_id, customer_id="c-1", currency="EUR", lines=lines)
    added = OrderItemAdded(order_id=order_id, sku="LOOSE", quantity=1, unit_price=Decimal("1.00"))
    return [recorded(created, str(order_id), "order", 1), recorded(added, str(order_id), "order", 2)]


def product_stream() -> list[RecordedEvent]:
    return [
        recorded(ProductRegistered(sku="A", name="Anvil", price=Decimal("5.00")), "product-A", "product", 1),
        recorded(StockReceived(sku="A", quantity=3), "product-A", "product", 2),
        recorded(ProductRenamed(sku="A", name="Acme anvil"), "product-A", "product", 3),
    ]


class NamesModel:
    """The orders projection's two rules, in memory: lines take the catalog's name when an
    order row is written, and a naming event rewrites the lines of every order with it."""

    def __init__(self) -> None:
        self.views: dict[str, View] = {}
        self.catalog: Catalog = {}

    def apply(self, event: RecordedEvent) -> None:
        if names_product(event):
            renamed = fold_catalog(self.catalog, [event])
            for stream_id, view in self.views.items():
                self.views[stream_id] = {**view, "lines": name_lines(view["lines"], renamed)}
        elif event.stream_type == "order":
            current = self.views.get(event.stream_id)
            advanced = advance_stream(current, current["version"] if current else 0, event, fold_order_view, self)  # type: ignore[arg-type]
            assert advanced is not None
            names = {line["sku"]: self.name_of(line["sku"]) for line in advanced["lines"]}
            self.views[event.stream_id] = {**advanced, "lines": name_lines(advanced["lines"], names)}

    def name_of(self, sku: str) -> str | None:
        known = self.catalog.get(sku)
        return known[0] if known else None

    def read_stream(self, stream_id: str, **_: Any) -> list[RecordedEvent]:
        raise AssertionError("every test delivers each stream in order")


def interleavings(first: list[RecordedEvent], second: list[RecordedEvent]) -> list[list[RecordedEvent]]:
    """Every merge of two streams that keeps each stream's own order."""
    size = len(first) + len(second)
    merges = []
    for slots in combinations(range(size), len(first)):
        a, b = iter(first), iter(second)
        merges.append([next(a) if index in slots else next(b) for index in range(size)])
    return merges


def names(model: NamesModel) -> list[tuple[str, str | None]]:
    (view,) = model.views.values()
    return [(line["sku"], line["name"]) for line in view["lines"]]


def test_lines_show_the_current_name_whatever_the_order_across_the_two_streams() -> None:
    order, product = order_stream(uuid4()), product_stream()
    merges = interleavings(order, product)
    assert len(merges) == 10  # registered before, between and after; renamed before and after
    for merge in merges:
        model = NamesModel()
        for event in merge:
            model.apply(event)
        assert names(model) == [("A", "Acme anvil"), ("LOOSE", None)]


def test_redelivered_and_stale_naming_events_change_nothing() -> None:
    order, product = order_stream(uuid4()), product_stream()
    model = NamesModel()
    for event in order + product + product + order:
        model.apply(event)
    assert names(model) == [("A", "Acme anvil"), ("LOOSE", None)]
    assert model.catalog == {"A": ("Acme anvil", 3)}
    # The registration delivered again after the rename does not bring the old name back.
    assert fold_catalog(model.catalog, [product[0]]) == {}


def test_a_line_of_an_sku_that_is_never_registered_has_no_name() -> None:
    model = NamesModel()
    for event in order_stream(uuid4()):
        model.apply(event)
    assert names(model) == [("A", None), ("LOOSE", None)]


def test_name_lines_sets_only_the_given_skus() -> None:
    lines = [{"sku": "A", "name": "Old"}, {"sku": "B", "name": "Bolt"}, {"sku": "C"}]
    assert name_lines(lines, {"A": "New"}) == [
        {"sku": "A", "name": "New"},
        {"sku": "B", "name": "Bolt"},
        {"sku": "C", "name": None},
    ]
