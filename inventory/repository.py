"""Products in the event store, through the shared repository (writeside/repository.py)."""

from __future__ import annotations

from typing import Any

from inventory.domain import Product, ProductState
from inventory.errors import ProductNotFound
from inventory.events import MAX_PRODUCT_SKU, product_stream
from kernel.errors import DomainError
from writeside.repository import EventSourcedRepository

# Bump when ProductState changes shape: older snapshots are then ignored and streams replayed.
PRODUCT_STATE_VERSION = 1


def could_be_product(sku: str) -> bool:
    """False for SKUs too long to name a product stream (orders allow longer ones)."""
    return 0 < len(sku) <= MAX_PRODUCT_SKU


class EventSourcedProducts(EventSourcedRepository[Product]):
    """Products loaded from their latest snapshot plus the events after it, keyed by SKU."""

    aggregate_type = Product
    state_type = ProductState
    state_version = PRODUCT_STATE_VERSION

    def stream_id(self, aggregate_id: Any) -> str:
        """A product's stream is named after its SKU."""
        return product_stream(str(aggregate_id))

    def not_found(self, aggregate_id: Any) -> DomainError:
        """ProductNotFound."""
        return ProductNotFound(f"No product is registered under SKU {aggregate_id}")

    def could_exist(self, aggregate_id: str) -> bool:
        """See `could_be_product`."""
        return could_be_product(aggregate_id)
