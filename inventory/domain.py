"""The Product aggregate: stock on hand, reservations per order, and the rules between them.

available = on_hand - reserved, and reserved never exceeds on_hand, so neither on_hand nor
available can go negative. Reservations are keyed by order: one per order and SKU. The state
holds only open reservations: a released or consumed one leaves it, so a product's state
(and its snapshot) is as large as its open orders, never as its history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from inventory.errors import StockBelowReserved
from inventory.events import (
    MAX_RESERVATION,
    PRODUCT_STREAM_TYPE,
    ProductEvent,
    ProductRegistered,
    ProductRenamed,
    StockAdjusted,
    StockConsumed,
    StockReceived,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRestocked,
    check_stock_quantity,
    product_stream,
)
from kernel.money import catalog_price
from writeside.aggregate import Aggregate


@dataclass(frozen=True, kw_only=True)
class Reservation:
    """Units promised to one order."""

    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ProductState:
    """Everything the stock rules need; snapshots store exactly this."""

    sku: str
    name: str
    price: Decimal
    on_hand: int = 0
    reservations: tuple[Reservation, ...] = ()

    @property
    def reserved(self) -> int:
        """Units promised to orders."""
        return sum(reservation.quantity for reservation in self.reservations)

    @property
    def available(self) -> int:
        """Units that can still be promised."""
        return self.on_hand - self.reserved

    def reservation(self, order_id: UUID) -> Reservation | None:
        """The order's reservation of this product, if it holds one."""
        return next((r for r in self.reservations if r.order_id == order_id), None)


def evolve_product(state: ProductState | None, event: ProductEvent) -> ProductState:
    """Apply one event to the product's state."""
    if isinstance(event, ProductRegistered):
        return ProductState(sku=event.sku, name=event.name, price=event.price)
    if state is None:
        raise LookupError(f"{type(event).__name__} before ProductRegistered for SKU {event.sku}")
    match event:
        case ProductRenamed(name=name):
            return replace(state, name=name)
        case StockReceived(quantity=quantity):
            return replace(state, on_hand=state.on_hand + quantity)
        case StockReserved(order_id=order_id, quantity=quantity):
            return replace(state, reservations=(*state.reservations, Reservation(order_id=order_id, quantity=quantity)))
        case StockReleased(order_id=order_id):
            return replace(state, reservations=tuple(r for r in state.reservations if r.order_id != order_id))
        case StockReservationFailed():
            return state
        case StockConsumed(order_id=order_id, quantity=quantity):
            return replace(
                state,
                on_hand=state.on_hand - quantity,
                reservations=tuple(r for r in state.reservations if r.order_id != order_id),
            )
        case StockAdjusted(quantity_delta=quantity_delta):
            return replace(state, on_hand=state.on_hand + quantity_delta)
        case StockRestocked(quantity=quantity):
            return replace(state, on_hand=state.on_hand + quantity)
    raise TypeError(f"Product cannot apply {type(event).__name__}")


class Product(Aggregate[ProductState, ProductEvent]):
    """A SKU whose stock is tracked: received, reserved for orders, released."""

    stream_type: ClassVar[str] = PRODUCT_STREAM_TYPE

    @staticmethod
    def evolve(state: ProductState | None, event: ProductEvent) -> ProductState:
        """See `evolve_product`."""
        return evolve_product(state, event)

    @classmethod
    def register(cls, sku: str, name: str, price: Decimal) -> Product:
        """A new product with no stock."""
        product = cls(product_stream(sku))
        event = ProductRegistered(sku=sku, name=name, price=price)
        product._record(replace(event, price=catalog_price(price)))
        return product

    def rename(self, name: str) -> bool:
        """Change the catalog name; False (nothing recorded) if it already has that name."""
        if self.state.name == name:
            return False
        self._record(ProductRenamed(sku=self.state.sku, name=name))
        return True

    def receive(self, quantity: int) -> None:
        """Add units to stock on hand."""
        self._record(StockReceived(sku=self.state.sku, quantity=quantity))

    def reserve(self, order_id: UUID, quantity: int) -> bool:
        """Promise units to an order, or record that too few were available.

        An order holds one reservation per product: asking again records nothing and
        returns False. A shortfall is a fact (StockReservationFailed), not an error.
        """
        check_stock_quantity(quantity, MAX_RESERVATION)
        state = self.state
        if state.reservation(order_id) is not None:
            return False
        if quantity > state.available:
            self._record(
                StockReservationFailed(sku=state.sku, order_id=order_id, quantity=quantity, available=state.available)
            )
        else:
            self._record(StockReserved(sku=state.sku, order_id=order_id, quantity=quantity))
        return True

    def restock(self, order_id: UUID, quantity: int) -> None:
        """Put units an order's customer returned back on hand."""
        self._record(StockRestocked(sku=self.state.sku, order_id=order_id, quantity=quantity))

    def release(self, order_id: UUID) -> bool:
        """Give an order's reservation back; False (nothing recorded) if it holds none."""
        reservation = self.state.reservation(order_id)
        if reservation is None:
            return False
        self._record(StockReleased(sku=self.state.sku, order_id=order_id, quantity=reservation.quantity))
        return True

    # Stock leaving with the goods, and stock counted or written off.

    def consume(self, order_id: UUID) -> bool:
        """The order's reserved units left with its shipment; False (nothing recorded) if it
        holds no reservation (consumed already, released, or never made)."""
        reservation = self.state.reservation(order_id)
        if reservation is None:
            return False
        self._record(StockConsumed(sku=self.state.sku, order_id=order_id, quantity=reservation.quantity))
        return True

    def adjust(self, quantity_delta: int, reason: str) -> None:
        """Correct stock on hand after a count, or write units off, saying why.

        Units promised to orders cannot be counted away: on hand may not drop below reserved
        (StockBelowReserved); the orders' reservations must be released first.
        """
        event = StockAdjusted(sku=self.state.sku, quantity_delta=quantity_delta, reason=reason)
        if self.state.on_hand + quantity_delta < self.state.reserved:
            raise StockBelowReserved(
                f"Adjusting SKU {self.state.sku} by {quantity_delta} would leave {self.state.on_hand + quantity_delta}"
                f" on hand, below the {self.state.reserved} reserved for orders"
            )
        self._record(event)
