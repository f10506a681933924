"""Command handlers: plain functions `(command, uow) -> CommandResult`, one per command."""

from __future__ import annotations

from uuid import UUID

from orders.commands import (
    AddOrderItem,
    CancelOrder,
    CancelUnpaidOrder,
    ChangeShippingAddress,
    ConfirmOrder,
    CreateOrder,
    DeliverOrder,
    ForgetCustomer,
    MarkStockReserved,
    PayOrder,
    RefundOrder,
    RemoveOrderItem,
    ReturnOrder,
    ShipOrder,
)
from orders.customers import Customer, check_customer_id
from orders.domain import Order
from orders.errors import CustomerNotFound, OrderAlreadyExists, OrderNotFound
from writeside.bus import Handler
from writeside.commands import Command
from writeside.unit_of_work import AbstractUnitOfWork, CommandResult

# The stream type of the inventory's products: the event log's public name for them
# (StoredEvent.stream_type), so confirming asks about products without importing the inventory.
PRODUCT_STREAM_TYPE = "product"


def create_order(command: CreateOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Place a new order under the id the caller chose."""
    try:
        uow.repository(Order).get(command.order_id)
    except OrderNotFound:
        pass
    else:
        raise OrderAlreadyExists(f"Order {command.order_id} already exists")
    uow.repository(Order).add(
        Order.create(
            command.order_id,
            command.customer_id,
            command.currency,
            command.items,
            command.customer_email,
            shipping_address=command.shipping_address,
            billing_address=command.billing_address,
            payment_method=command.payment_method,
        )
    )
    return uow.commit()


def add_order_item(command: AddOrderItem, uow: AbstractUnitOfWork) -> CommandResult:
    """Add quantity of a SKU to a pending order."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.add_item(command.sku, command.quantity, command.unit_price)
    return uow.commit()


def remove_order_item(command: RemoveOrderItem, uow: AbstractUnitOfWork) -> CommandResult:
    """Take a SKU's line off a pending order."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.remove_item(command.sku)
    return uow.commit()


def confirm_order(command: ConfirmOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Freeze a pending order's lines, noting which of them are registered products.

    The check asks the event store now, in the confirming transaction, so the order
    itself says whether payment must wait for stock; no later read can disagree.
    """
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    # Products are the inventory's; asked by their stream type, not by importing the context.
    products = uow.repository(PRODUCT_STREAM_TYPE).existing(line.sku for line in order.state.lines)
    order.confirm(line.sku for line in order.state.lines if line.sku in products)
    return uow.commit()


def mark_stock_reserved(command: MarkStockReserved, uow: AbstractUnitOfWork) -> CommandResult:
    """Record that every tracked line of a confirmed order is reserved (once)."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    return uow.commit() if order.mark_stock_reserved() else uow.unchanged(order)


def pay_order(command: PayOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Record payment of a confirmed order's total (or of a cancelled one's, owed back; once
    per payment)."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    return uow.commit() if order.pay(command.payment_id, command.amount, command.currency) else uow.unchanged(order)


def ship_order(command: ShipOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Hand a paid order to a carrier."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.ship(command.tracking_number, command.carrier)
    return uow.commit()


def deliver_order(command: DeliverOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Record that a shipped order arrived."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.deliver()
    return uow.commit()


def change_shipping_address(command: ChangeShippingAddress, uow: AbstractUnitOfWork) -> CommandResult:
    """Send an order that has not shipped to another address."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.change_shipping_address(command.shipping_address)
    return uow.commit()


def cancel_order(command: CancelOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Call off an order that has not shipped."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.cancel(command.reason)
    return uow.commit()


def cancel_unpaid_order(command: CancelUnpaidOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Call off a confirmed order that was never paid (its payment deadline passed)."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.cancel_unpaid(command.reason)
    return uow.commit()


def refund_order(command: RefundOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Record a refund paid (once per refund id, never more than is owed)."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    changed = order.refund(command.refund_id, command.amount, command.currency)
    return uow.commit() if changed else uow.unchanged(order)


def return_order(command: ReturnOrder, uow: AbstractUnitOfWork) -> CommandResult:
    """Take back goods of a delivered order."""
    order = uow.repository(Order).get(command.order_id, command.expected_version)
    order.take_back(command.lines, command.reason, restock=command.restock)
    return uow.commit()


def forget_customer(command: ForgetCustomer, uow: AbstractUnitOfWork) -> CommandResult:
    """Erase a customer's personal data: delete their key (everything sealed with it, in the
    log, snapshots and command records, reads as null from this commit on) and record
    CustomerForgotten, on which the read models scrub their plain copies."""
    check_customer_id(command.customer_id)
    customers = uow.repository(Customer)
    try:
        customer = customers.get(command.customer_id)
    except CustomerNotFound:
        customer = Customer.new(command.customer_id)
        customers.add(customer)
    order_ids = [UUID(stream) for stream in uow.streams_with("OrderCreated", "customer_id", command.customer_id)]
    had_key = uow.forget_subject(command.customer_id)
    if not customer.exists and not order_ids and not had_key:
        raise CustomerNotFound(f"No order names customer {command.customer_id}")
    return uow.commit() if customer.forget(command.customer_id, order_ids, had_key=had_key) else uow.unchanged(customer)


# The order's handlers, registered with the bus by OrdersConfig.ready().
HANDLERS: dict[type[Command], Handler] = {
    CreateOrder: create_order,
    AddOrderItem: add_order_item,
    RemoveOrderItem: remove_order_item,
    ConfirmOrder: confirm_order,
    MarkStockReserved: mark_stock_reserved,
    PayOrder: pay_order,
    ShipOrder: ship_order,
    DeliverOrder: deliver_order,
    ChangeShippingAddress: change_shipping_address,
    CancelOrder: cancel_order,
    CancelUnpaidOrder: cancel_unpaid_order,
    ForgetCustomer: forget_customer,
    RefundOrder: refund_order,
    ReturnOrder: return_order,
}
