"""Products in the event store, through the same generic repository as orders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from inventory.domain import Product, ProductState, product_stream
from inventory.errors import ProductNotFound
from inventory.events import MAX_PRODUCT_SKU
from orders.errors import DomainError
from orders.repository import EventSourcedRepository, Repository

# Bump when ProductState changes shape: older snapshots are then ignored and streams replayed.
PRODUCT_STATE_VERSION = 1


class ProductRepository(Repository[Product], Protocol):
    """What handlers need of products, keyed by SKU."""

    def registered(self, skus: Iterable[str]) -> set[str]:
        """Those of the SKUs that are registered products."""
        ...


def could_be_product(sku: str) -> bool:
    """False for SKUs too long to name a product stream (orders allow longer ones)."""
    return 0 < len(sku) <= MAX_PRODUCT_SKU


class EventSourcedProducts(EventSourcedRepository[Product]):
    """Products loaded from their latest snapshot plus the events after it."""

    aggregate_type = Product
    state_type = ProductState
    state_version = PRODUCT_STATE_VERSION

    def stream_id(self, aggregate_id: Any) -> str:
        """A product's stream is named after its SKU."""
        return product_stream(str(aggregate_id))

    def not_found(self, aggregate_id: Any) -> DomainError:
        """ProductNotFound."""
        return ProductNotFound(f"No product is registered under SKU {aggregate_id}")

    def registered(self, skus: Iterable[str]) -> set[str]:
        """Those of the SKUs whose streams have events (asked of the event store, not a read model)."""
        by_stream = {self.stream_id(sku): sku for sku in skus if could_be_product(sku)}
        return {by_stream[stream] for stream in self.store.existing_streams(by_stream)}
