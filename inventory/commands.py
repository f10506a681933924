"""Commands to the Product aggregate: each changes exactly one product's stream."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from writeside.commands import Command

# What a command on one product loads first (writeside.commands.Command.loads): its stream.
LOADS_PRODUCT = ("product", "sku")


@dataclass(frozen=True, kw_only=True)
class RegisterProduct(Command):
    """Start tracking stock for a SKU, with its catalog name and price."""

    sku: str
    name: str
    price: Decimal


@dataclass(frozen=True, kw_only=True)
class RenameProduct(Command):
    """Change a product's catalog name."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_PRODUCT

    sku: str
    name: str


@dataclass(frozen=True, kw_only=True)
class ReceiveStock(Command):
    """Add units that arrived to the product's stock on hand."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_PRODUCT

    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ReserveStock(Command):
    """Promise units to an order; records a failure (not an error) when too few are available."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_PRODUCT

    sku: str
    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ReleaseStock(Command):
    """Give an order's reservation back; nothing happens if it holds none."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_PRODUCT

    sku: str
    order_id: UUID


# Stock leaving with the goods, and stock counted or written off.


@dataclass(frozen=True, kw_only=True)
class ConsumeStock(Command):
    """The order's reserved units left with its shipment; nothing happens if it holds none."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_PRODUCT

    sku: str
    order_id: UUID


@dataclass(frozen=True, kw_only=True)
class AdjustStock(Command):
    """Correct stock on hand after a count, or write units off, with a reason."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_PRODUCT

    sku: str
    quantity_delta: int
    reason: str


# Goods a customer sent back.


@dataclass(frozen=True, kw_only=True)
class RestockReturned(Command):
    """Put units an order's customer returned back on hand (sent by the fulfilment process,
    once per return and SKU: its id derives from the return)."""

    loads: ClassVar[tuple[str, str] | None] = LOADS_PRODUCT

    sku: str
    order_id: UUID
    quantity: int
