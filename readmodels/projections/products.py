"""The `products` projection: ProductStock, one row per product with its stock now."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore, event_store
from inventory.events import (
    PRODUCT_STREAM_TYPE,
    ProductRegistered,
    ProductRenamed,
    StockAdjusted,
    StockConsumed,
    StockReceived,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
)
from projector.projection import Projection
from readmodels.models import ProductStock
from readmodels.projections.base import advance_stream

STOCK_FIELDS = ("name", "price", "on_hand", "reserved", "available", "updated_at", "version")

Row = dict[str, Any]


def fold_product_row(row: Row | None, recorded: RecordedEvent) -> Row:
    """The product's row after one more event."""
    event = recorded.event
    if isinstance(event, ProductRegistered):
        row = {"sku": event.sku, "name": event.name, "price": event.price, "on_hand": 0, "reserved": 0}
    elif row is None:
        raise LookupError(f"{recorded.event_type} v{recorded.version} of {recorded.stream_id} before ProductRegistered")
    else:
        row = dict(row)
        match event:
            case ProductRenamed(name=name):
                row["name"] = name
            case StockReceived(quantity=quantity):
                row["on_hand"] += quantity
            case StockReserved(quantity=quantity):
                row["reserved"] += quantity
            case StockReleased(quantity=quantity):
                row["reserved"] -= quantity
            case StockReservationFailed():
                pass
            case StockConsumed(quantity=quantity):
                row["on_hand"] -= quantity
                row["reserved"] -= quantity
            case StockAdjusted(quantity_delta=quantity_delta):
                row["on_hand"] += quantity_delta
            case StockRestocked(quantity=quantity):
                row["on_hand"] += quantity
    row["available"] = row["on_hand"] - row["reserved"]
    row["updated_at"] = recorded.recorded_at
    row["version"] = recorded.version
    return row


class ProductsProjection(Projection):
    """Keeps ProductStock in stream order, one upsert per touched product per batch."""

    name = "products"
    tables = (ProductStock,)
    stream_types = frozenset({PRODUCT_STREAM_TYPE})

    def __init__(self, store: EventStore | None = None) -> None:
        self.store = store or event_store()

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Fold the batch into the touched products' rows and upsert them."""
        events = [event for event in events if event.stream_type in self.stream_types]
        if not events:
            return
        skus = {event.event.sku for event in events}
        rows: dict[str, Row | None] = {
            row["sku"]: row
            for row in ProductStock.objects.using(using).filter(sku__any=skus).values("sku", *STOCK_FIELDS)
        }
        changed: set[str] = set()
        for event in events:
            sku = event.event.sku
            row = rows.get(sku)
            before = row["version"] if row else 0
            rows[sku] = advance_stream(row, before, event, fold_product_row, self.store)
            if event.version > before:
                changed.add(sku)
        ProductStock.objects.using(using).bulk_create(
            [ProductStock(**row) for sku in sorted(changed) if (row := rows[sku])],
            update_conflicts=True,
            unique_fields=["sku"],
            update_fields=list(STOCK_FIELDS),
        )
