"""Product stock queries, from the ProductStock read model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, overload

from django.conf import settings
from django.db.models import Q, QuerySet

from readmodels.models import ProductStock
from readmodels.search import SEARCH_COUNT_LIMIT, search_words


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductStockDTO:
    """A product's catalog name and price, and its stock as last projected."""

    sku: str
    name: str
    price: Decimal
    on_hand: int
    reserved: int
    available: int
    updated_at: datetime
    version: int


FIELDS = ("sku", "name", "price", "on_hand", "reserved", "available", "updated_at", "version")


class ProductStockRows(Sequence[ProductStockDTO]):
    """Lazy and sliceable: a paginator counts it and reads only the page it slices. A
    search's count is exact up to SEARCH_COUNT_LIMIT matches, as the order search's, and
    `count_exact` says, once counted, whether it is."""

    def __init__(self, rows: QuerySet[ProductStock, dict[str, Any]], *, searched: bool = False) -> None:
        self._rows = rows
        self._searched = searched
        self.count_exact = True

    def __len__(self) -> int:
        if not self._searched:
            return self._rows.count()
        found = self._rows[: SEARCH_COUNT_LIMIT + 1].count()
        self.count_exact = found <= SEARCH_COUNT_LIMIT
        return min(found, SEARCH_COUNT_LIMIT)

    @overload
    def __getitem__(self, index: int) -> ProductStockDTO: ...

    @overload
    def __getitem__(self, index: slice) -> list[ProductStockDTO]: ...

    def __getitem__(self, index: int | slice) -> ProductStockDTO | list[ProductStockDTO]:
        if isinstance(index, slice):
            return [ProductStockDTO(**row) for row in self._rows[index]]
        return ProductStockDTO(**self._rows[index])


def product_stock_list(*, text: str | None = None, low_stock: bool = False) -> ProductStockRows:
    """The products whose SKU or name contains every word of `text` (any case), only those
    low on stock (available at most LOW_STOCK_THRESHOLD) if `low_stock`; by SKU. The catalog
    is small next to the orders: these are plain scans, without a search index."""
    rows = ProductStock.objects.all()
    words = search_words(text or "")
    for word in words:
        rows = rows.filter(Q(sku__icontains=word) | Q(name__icontains=word))
    if low_stock:
        rows = rows.filter(available__lte=int(settings.LOW_STOCK_THRESHOLD))
    return ProductStockRows(rows.order_by("sku").values(*FIELDS), searched=bool(words))


def product_stock(sku: str) -> ProductStockDTO | None:
    """One product's stock, or None if it is not (yet) projected."""
    row = ProductStock.objects.filter(sku=sku).values(*FIELDS).first()
    return ProductStockDTO(**row) if row else None
