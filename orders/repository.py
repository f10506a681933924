"""Orders in the event store, through the shared repository (writeside/repository.py)."""

from __future__ import annotations

from typing import Any

from eventlog.store import EventStore
from kernel.errors import DomainError
from orders.customers import Customer, CustomerState, customer_stream_id
from orders.domain import MAX_EVENTS, Order
from orders.errors import CustomerNotFound, OrderNotFound
from orders.state import OrderState
from writeside.repository import EventSourcedRepository

# Bump when OrderState changes shape: older snapshots are then ignored and streams replayed.
# 2: tracked_skus and stock_reserved (inventory). 3: addresses, payment method, amounts paid and owed.
# 4: payments captured after the cancellation (late_payment_ids). 5: refunds paid (refunded,
# refund_ids) and returned quantities.
ORDER_STATE_VERSION = 5


class EventSourcedOrders(EventSourcedRepository[Order]):
    """Orders loaded from their latest snapshot plus the events after it."""

    aggregate_type = Order
    state_type = OrderState
    state_version = ORDER_STATE_VERSION

    def __init__(self, store: EventStore, snapshot_every: int, max_events: int = MAX_EVENTS) -> None:
        super().__init__(store, snapshot_every)
        self.max_events = max_events

    def aggregate_options(self) -> dict[str, Any]:
        """The configured limit of events per order."""
        return {"max_events": self.max_events}

    def not_found(self, aggregate_id: Any) -> DomainError:
        """OrderNotFound."""
        return OrderNotFound(f"Order {aggregate_id} does not exist")


class EventSourcedCustomers(EventSourcedRepository[Customer]):
    """Customers' privacy streams, keyed by customer id."""

    aggregate_type = Customer
    state_type = CustomerState
    state_version = 1

    def stream_id(self, aggregate_id: Any) -> str:
        """The customer's stream (a uuid5 of the customer id)."""
        return customer_stream_id(str(aggregate_id))

    def not_found(self, aggregate_id: Any) -> DomainError:
        """CustomerNotFound: never forgotten so far."""
        return CustomerNotFound(f"Customer {aggregate_id} was never forgotten")
