"""Domain events of the Product aggregate: one stream per SKU, stock received and promised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from kernel.errors import InvalidValue
from kernel.events import DomainEvent, check_text
from kernel.money import check_price

# The event log's name for a product's stream type (the Product aggregate's), which readers
# filter on without importing the aggregate.
PRODUCT_STREAM_TYPE = "product"
# A product's stream id is PRODUCT_STREAM_PREFIX + sku and stream ids hold 64 characters.
PRODUCT_STREAM_PREFIX = "product:"
MAX_PRODUCT_SKU = 64 - len(PRODUCT_STREAM_PREFIX)
# One receipt; totals stay far below the read model's bigint columns.
MAX_RECEIPT = 1_000_000
# One reservation is for one order line: as many units as a line may hold (the orders' own
# MAX_QUANTITY, kept equal by a test rather than imported: the contexts import neither other).
MAX_RESERVATION = 10_000


def product_stream(sku: str) -> str:
    """The stream id of a SKU's product (prefixed so it can never collide with an order id)."""
    return PRODUCT_STREAM_PREFIX + sku


# A product's SKU is part of its URLs (/api/products/{sku}/) and its Location header.
PRODUCT_SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_PRODUCT_SKU = re.compile(PRODUCT_SKU_PATTERN)


def check_sku(sku: str) -> None:
    """A product SKU: 1 to MAX_PRODUCT_SKU letters, digits, '.', '_' or '-'."""
    check_text("sku", sku, MAX_PRODUCT_SKU)
    if not _PRODUCT_SKU.fullmatch(sku):
        raise InvalidValue("sku", "must start with a letter or digit and hold only letters, digits, '.', '_' or '-'")


def check_stock_quantity(quantity: int, maximum: int = MAX_RECEIPT) -> None:
    """A positive whole number of units, at most `maximum`."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidValue("quantity", "must be an integer")
    if not 1 <= quantity <= maximum:
        raise InvalidValue("quantity", f"must be between 1 and {maximum}")


@dataclass(frozen=True, kw_only=True)
class ProductEvent(DomainEvent):
    """An event of one product's stream."""

    sku: str


@dataclass(frozen=True, kw_only=True)
class ProductRegistered(ProductEvent):
    """A SKU became a product whose stock is tracked."""

    name: str
    price: Decimal

    def __post_init__(self) -> None:
        check_sku(self.sku)
        check_text("name", self.name, 200)
        check_price(self.price, "price")


@dataclass(frozen=True, kw_only=True)
class ProductRenamed(ProductEvent):
    """The product's catalog name changed."""

    name: str

    def __post_init__(self) -> None:
        check_text("name", self.name, 200)


@dataclass(frozen=True, kw_only=True)
class StockReceived(ProductEvent):
    """Units arrived in the warehouse."""

    quantity: int

    def __post_init__(self) -> None:
        check_stock_quantity(self.quantity)


@dataclass(frozen=True, kw_only=True)
class StockReserved(ProductEvent):
    """Units were promised to an order's line."""

    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class StockReservationFailed(ProductEvent):
    """An order asked for more units than were available; nothing was promised."""

    order_id: UUID
    quantity: int
    available: int


@dataclass(frozen=True, kw_only=True)
class StockReleased(ProductEvent):
    """An order's reservation was given back to available stock."""

    order_id: UUID
    quantity: int


# Stock leaving with the goods, and stock counted or written off: kept as a section of their
# own so other stock movements can be added beside them.


@dataclass(frozen=True, kw_only=True)
class StockConsumed(ProductEvent):
    """An order's reserved units left with its shipment: on hand and reserved both drop."""

    order_id: UUID
    quantity: int


# An adjustment corrects a count or writes stock off; as large as one receipt either way.
MAX_ADJUSTMENT = MAX_RECEIPT
MAX_ADJUSTMENT_REASON = 200


def check_quantity_delta(quantity_delta: int) -> None:
    """A non-zero whole number of units, at most MAX_ADJUSTMENT either way."""
    if isinstance(quantity_delta, bool) or not isinstance(quantity_delta, int):
        raise InvalidValue("quantity_delta", "must be an integer")
    if quantity_delta == 0 or abs(quantity_delta) > MAX_ADJUSTMENT:
        raise InvalidValue("quantity_delta", f"must be non-zero and between -{MAX_ADJUSTMENT} and {MAX_ADJUSTMENT}")


@dataclass(frozen=True, kw_only=True)
class StockAdjusted(ProductEvent):
    """Stock on hand was corrected after a count, or written off (damaged, lost), with why."""

    quantity_delta: int
    reason: str

    def __post_init__(self) -> None:
        check_quantity_delta(self.quantity_delta)
        check_text("reason", self.reason, MAX_ADJUSTMENT_REASON)


@dataclass(frozen=True, kw_only=True)
class StockRestocked(ProductEvent):
    """Units an order's customer sent back went on hand again (a return with restock)."""

    order_id: UUID
    quantity: int

    def __post_init__(self) -> None:
        check_stock_quantity(self.quantity, MAX_RESERVATION)


PRODUCT_EVENTS: tuple[type[ProductEvent], ...] = (
    ProductRegistered,
    ProductRenamed,
    StockReceived,
    StockReserved,
    StockReservationFailed,
    StockReleased,
    StockConsumed,
    StockAdjusted,
    StockRestocked,
)
