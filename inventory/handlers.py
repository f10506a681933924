"""Command handlers of the Product aggregate; registered with the bus by InventoryConfig.ready()."""

from __future__ import annotations

from inventory.commands import (
    AdjustStock,
    ConsumeStock,
    ReceiveStock,
    RegisterProduct,
    ReleaseStock,
    RenameProduct,
    ReserveStock,
    RestockReturned,
)
from inventory.domain import Product
from inventory.errors import ProductAlreadyExists
from writeside.bus import Handler
from writeside.commands import Command
from writeside.unit_of_work import AbstractUnitOfWork, CommandResult


def register_product(command: RegisterProduct, uow: AbstractUnitOfWork) -> CommandResult:
    """Start tracking stock for a SKU."""
    if uow.repository(Product).existing([command.sku]):
        raise ProductAlreadyExists(f"SKU {command.sku} is registered already")
    uow.repository(Product).add(Product.register(command.sku, command.name, command.price))
    return uow.commit()


def rename_product(command: RenameProduct, uow: AbstractUnitOfWork) -> CommandResult:
    """Change a product's catalog name (the same name again changes nothing)."""
    product = uow.repository(Product).get(command.sku, command.expected_version)
    return uow.commit() if product.rename(command.name) else uow.unchanged(product)


def receive_stock(command: ReceiveStock, uow: AbstractUnitOfWork) -> CommandResult:
    """Add received units to stock on hand."""
    product = uow.repository(Product).get(command.sku, command.expected_version)
    product.receive(command.quantity)
    return uow.commit()


def reserve_stock(command: ReserveStock, uow: AbstractUnitOfWork) -> CommandResult:
    """Promise units to an order, or record the shortfall; a repeat changes nothing."""
    product = uow.repository(Product).get(command.sku, command.expected_version)
    recorded = product.reserve(command.order_id, command.quantity)
    return uow.commit() if recorded else uow.unchanged(product)


def release_stock(command: ReleaseStock, uow: AbstractUnitOfWork) -> CommandResult:
    """Give an order's reservation back; a release of nothing changes nothing."""
    product = uow.repository(Product).get(command.sku, command.expected_version)
    return uow.commit() if product.release(command.order_id) else uow.unchanged(product)


def consume_stock(command: ConsumeStock, uow: AbstractUnitOfWork) -> CommandResult:
    """The order's reservation left with its shipment; consuming nothing changes nothing."""
    product = uow.repository(Product).get(command.sku, command.expected_version)
    return uow.commit() if product.consume(command.order_id) else uow.unchanged(product)


def adjust_stock(command: AdjustStock, uow: AbstractUnitOfWork) -> CommandResult:
    """Correct stock on hand after a count or a write-off."""
    product = uow.repository(Product).get(command.sku, command.expected_version)
    product.adjust(command.quantity_delta, command.reason)
    return uow.commit()


def restock_returned(command: RestockReturned, uow: AbstractUnitOfWork) -> CommandResult:
    """Put returned units back on hand."""
    product = uow.repository(Product).get(command.sku, command.expected_version)
    product.restock(command.order_id, command.quantity)
    return uow.commit()


# The product's handlers, registered with the bus by InventoryConfig.ready().
HANDLERS: dict[type[Command], Handler] = {
    RegisterProduct: register_product,
    RenameProduct: rename_product,
    ReceiveStock: receive_stock,
    ReserveStock: reserve_stock,
    ReleaseStock: release_stock,
    ConsumeStock: consume_stock,
    AdjustStock: adjust_stock,
    RestockReturned: restock_returned,
}
