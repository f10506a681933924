"""The model-based test's rules for what customers, staff and partners do: commands on orders
and products, forgetting customers, and inbound messages (duplicated, out of turn, for
unknown or cancelled orders, hostile). Each says beforehand, from the model, whether the
back office must take or refuse it, and updates the model when it is taken.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from hypothesis import strategies as st
from hypothesis.stateful import initialize, multiple, rule

from integration.language import PAYMENT_CAPTURED, SHIPMENT_DELIVERED, SHIPMENT_DISPATCHED
from inventory.commands import RenameProduct
from orders.commands import ForgetCustomer
from orders.state import OrderStatus
from tests.factories import (
    CancelOrderFactory,
    ChangeShippingAddressFactory,
    DeliverOrderFactory,
    PayOrderFactory,
    ReceiveStockFactory,
    RegisterProductFactory,
    ShipOrderFactory,
)
from tests.integration.model_levers import cloud_event, deliver
from tests.integration.model_machine import CUSTOMER_IDS, CUSTOMERS, ORDERS, MachineBase

HOSTILE = st.sampled_from([b"\x00", b"{", b"[]", b'{"id": "\\ud800"}', "\u0000".encode(), b"\xff\xfe"]) | st.binary()
SKUS = st.sampled_from(["P-1", "P-2"])


class OrderRules(MachineBase):
    """Orders placed, moved along their lifecycle, re-addressed, and customers forgotten."""

    @initialize(target=ORDERS, quantities=st.lists(st.integers(1, 3), min_size=3, max_size=3))
    def customers_order(self, quantities: list[int]) -> Any:
        """Each customer places an order first: the other rules have orders to work on."""
        return multiple(*(self.placed(customer, n) for customer, n in zip(CUSTOMER_IDS, quantities, strict=True)))

    @rule(target=ORDERS, customer=CUSTOMERS, quantity=st.integers(1, 3))
    def create(self, customer: str, quantity: int) -> UUID:
        return self.placed(customer, quantity)

    @rule(order=ORDERS)
    def confirm(self, order: UUID) -> None:
        self.confirmed(order)

    @rule(order=ORDERS)
    def pay(self, order: UUID) -> None:
        state = self.model.orders[order]
        command = PayOrderFactory(order_id=order, amount=state.total)
        if self.expect(command, taken=state.may("pay")):
            state.pay(command.payment_id)

    @rule(order=ORDERS)
    def ship(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(ShipOrderFactory(order_id=order), taken=state.may("ship")):
            state.status = OrderStatus.SHIPPED

    @rule(order=ORDERS)
    def deliver(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(DeliverOrderFactory(order_id=order), taken=state.may("deliver")):
            state.status = OrderStatus.DELIVERED

    @rule(order=ORDERS)
    def cancel(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(CancelOrderFactory(order_id=order), taken=state.may("cancel")):
            state.cancel()

    @rule(order=ORDERS)
    def change_address(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(ChangeShippingAddressFactory(order_id=order), taken=state.may("address")):
            state.address_forgotten = False  # the new address is sealed under a new key

    @rule(customer=CUSTOMERS)
    def forget(self, customer: str) -> None:
        self.expect(ForgetCustomer(customer_id=customer), taken=self.model.forget(customer))


class ProductRules(MachineBase):
    """Products registered, stocked and renamed."""

    @rule(sku=SKUS)
    def register_product(self, sku: str) -> None:
        command = RegisterProductFactory(sku=sku)
        if self.expect(command, taken=sku not in self.model.products):
            self.model.products[sku] = (command.name, 0)

    @rule(sku=SKUS, quantity=st.integers(1, 20))
    def receive_stock(self, sku: str, quantity: int) -> None:
        if self.expect(ReceiveStockFactory(sku=sku, quantity=quantity), taken=sku in self.model.products):
            name, on_hand = self.model.products[sku]
            self.model.products[sku] = (name, on_hand + quantity)

    @rule(sku=SKUS, name=st.sampled_from(["Anvil", "Bellows"]))
    def rename_product(self, sku: str, name: str) -> None:
        if self.expect(RenameProduct(sku=sku, name=name), taken=sku in self.model.products):
            self.model.products[sku] = (name, self.model.products[sku][1])


class InboundRules(MachineBase):
    """Partners' messages through the consumer's boundary."""

    @rule(order=ORDERS, twice=st.booleans())
    def payment_message(self, order: UUID, twice: bool) -> None:
        """A partner's captured payment, delivered once or twice (the same message)."""
        self.captured(order, twice=twice)

    @rule(order=ORDERS, kind=st.sampled_from([SHIPMENT_DISPATCHED, SHIPMENT_DELIVERED]))
    def shipment_message(self, order: UUID, kind: str) -> None:
        """A carrier's news, in whatever order it comes: one out of turn is dead-lettered."""
        state = self.model.orders[order]
        data = {"order_id": str(order), "tracking_number": "TRK-IN"}
        action = "ship" if kind == SHIPMENT_DISPATCHED else "deliver"
        taken = state.may(action)
        assert deliver(cloud_event(kind, self.next_message(), data)) == ("applied" if taken else "dead-lettered")
        if taken:
            state.status = OrderStatus.SHIPPED if action == "ship" else OrderStatus.DELIVERED

    @rule()
    def message_for_an_unknown_order(self) -> None:
        data = {"order_id": str(uuid4()), "payment_id": "p-x", "amount": "1.00", "currency": "EUR"}
        assert deliver(cloud_event(PAYMENT_CAPTURED, self.next_message(), data)) == "dead-lettered"

    @rule(body=HOSTILE, text=st.text(max_size=20))
    def hostile_message(self, body: bytes, text: str) -> None:
        """Bytes that are no event, and an event whose text no column can hold."""
        assert deliver(body) == "dead-lettered"
        data = {"order_id": str(uuid4()), "tracking_number": f"{text}\u0000"}
        assert deliver(cloud_event(SHIPMENT_DISPATCHED, f"{text}\ud800", data)) == "dead-lettered"
