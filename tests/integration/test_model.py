"""A model-based test of the whole back office: a Hypothesis rule-based state machine drives the
real bus, event store and projection engine on PostgreSQL with a small in-memory model beside
them (tests/integration/backoffice_model.py), and interleaves what the features do to each
other: commands on orders and products, forgetting customers, snapshots every few events,
inbound messages (duplicated, out of order, for unknown or cancelled orders, hostile), the
payment deadline's clock, a projection bug with its dead letters retried or skipped, checkpoint
rewinds, and rebuilds in place and blue/green.

After each step, once projected: every order served equals the model's (status, what it owes
back, whether its customer's data reads as forgotten), every product too; and every few steps
and at the end the books verify (projector/verification.py, `manage.py verify`'s engine: read
models equal a fresh replay, nothing of a forgotten customer can be decrypted, every committed
command has its audit row, every public event was published).

Profiles: "ci" (the default, a few short runs, part of `make test`) and "long"
(`make test-model`); HYPOTHESIS_PROFILE picks one. docs/reliability.md has the last long run.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import factory.random
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fulfilment.deadlines import expire_due
from integration.language import PAYMENT_CAPTURED, SHIPMENT_DELIVERED, SHIPMENT_DISPATCHED
from inventory.commands import RenameProduct
from orders.commands import ForgetCustomer
from orders.state import OrderStatus
from projector.loop import Projector, read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.rebuild import rebuild_by_name
from projector.registry import all_projections
from projector.verification import verify
from readmodels.selectors.orders import order_detail
from readmodels.selectors.products import product_stock
from tests.factories import (
    AddressFactory,
    CancelOrderFactory,
    ChangeShippingAddressFactory,
    ConfirmOrderFactory,
    CreateOrderFactory,
    DeliverOrderFactory,
    LineItemFactory,
    PayOrderFactory,
    ReceiveStockFactory,
    RegisterProductFactory,
    ShipOrderFactory,
)
from tests.integration.backoffice_model import (
    BROKEN_ORDERS,
    ORDERS,
    BrokenOrders,
    Model,
    ModelOrder,
    cloud_event,
    deliver,
    empty_databases,
    outcome,
    project,
)
from tests.integration.test_dead_letter_decisions import least_privileged
from writeside.errors import DomainError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# No explain phase: it traces every line of the product, minutes per failing example.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
BASE = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None, phases=PHASES)
settings.register_profile("ci", BASE, max_examples=10, stateful_step_count=25, derandomize=True)
# MODEL_EXAMPLES shortens the long profile for a run that has less time.
LONG_EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "200"))
settings.register_profile("long", BASE, max_examples=LONG_EXAMPLES, stateful_step_count=50)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# The books are checked after this many steps (a fresh replay of the log costs a second or so).
VERIFY_EVERY = 5
HOSTILE = st.sampled_from([b"\x00", b"{", b"[]", b'{"id": "\\ud800"}', "\u0000".encode(), b"\xff\xfe"]) | st.binary()
CUSTOMER_IDS = ("c-ada", "c-bob", "c-cy")
CUSTOMERS = st.sampled_from(CUSTOMER_IDS)


class BackOffice(RuleBasedStateMachine):
    """The back office and its model, side by side."""

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        empty_databases()
        factory.random.reseed_random("model")
        BrokenOrders.poisoned.clear()
        self.model = Model()
        self.blocked: set[str] = set()  # order streams with dead letters of the orders projection
        self.skipped: set[str] = set()  # order streams with a skipped event, until a replay
        self.steps = 0
        self.messages = 0

    # Orders ---------------------------------------------------------------------------------

    @initialize(target=orders, quantities=st.lists(st.integers(1, 3), min_size=3, max_size=3))
    def customers_order(self, quantities: list[int]) -> Any:
        """Each customer places an order first: the other rules have orders to work on."""
        return multiple(*(self.create(customer, n) for customer, n in zip(CUSTOMER_IDS, quantities, strict=True)))

    @rule(target=orders, customer=CUSTOMERS, quantity=st.integers(1, 3))
    def create(self, customer: str, quantity: int) -> UUID:
        command = CreateOrderFactory(
            customer_id=customer,
            customer_email=f"{customer}@example.org",
            shipping_address=AddressFactory(),
            items=(LineItemFactory(quantity=quantity, unit_price=Decimal("2.50")),),
        )
        self.expect(command, taken=True)
        self.model.orders[command.order_id] = ModelOrder(customer=customer, total=Decimal("2.50") * quantity)
        return UUID(str(command.order_id))

    @rule(order=orders)
    def confirm(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(ConfirmOrderFactory(order_id=order), taken=state.may("confirm")):
            state.status = OrderStatus.CONFIRMED

    @rule(order=orders)
    def pay(self, order: UUID) -> None:
        state = self.model.orders[order]
        command = PayOrderFactory(order_id=order, amount=state.total)
        if self.expect(command, taken=state.may("pay")):
            state.pay(command.payment_id)

    @rule(order=orders)
    def ship(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(ShipOrderFactory(order_id=order), taken=state.may("ship")):
            state.status = OrderStatus.SHIPPED

    @rule(order=orders)
    def deliver(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(DeliverOrderFactory(order_id=order), taken=state.may("deliver")):
            state.status = OrderStatus.DELIVERED

    @rule(order=orders)
    def cancel(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(CancelOrderFactory(order_id=order), taken=state.may("cancel")):
            state.cancel()

    @rule(order=orders)
    def change_address(self, order: UUID) -> None:
        state = self.model.orders[order]
        if self.expect(ChangeShippingAddressFactory(order_id=order), taken=state.may("address")):
            state.address_forgotten = False  # the new address is sealed under a new key

    @rule(customer=CUSTOMERS)
    def forget(self, customer: str) -> None:
        self.expect(ForgetCustomer(customer_id=customer), taken=self.model.forget(customer))

    # Products -------------------------------------------------------------------------------

    @rule(sku=st.sampled_from(["P-1", "P-2"]))
    def register_product(self, sku: str) -> None:
        command = RegisterProductFactory(sku=sku)
        if self.expect(command, taken=sku not in self.model.products):
            self.model.products[sku] = (command.name, 0)

    @rule(sku=st.sampled_from(["P-1", "P-2"]), quantity=st.integers(1, 20))
    def receive_stock(self, sku: str, quantity: int) -> None:
        if self.expect(ReceiveStockFactory(sku=sku, quantity=quantity), taken=sku in self.model.products):
            name, on_hand = self.model.products[sku]
            self.model.products[sku] = (name, on_hand + quantity)

    @rule(sku=st.sampled_from(["P-1", "P-2"]), name=st.sampled_from(["Anvil", "Bellows"]))
    def rename_product(self, sku: str, name: str) -> None:
        if self.expect(RenameProduct(sku=sku, name=name), taken=sku in self.model.products):
            self.model.products[sku] = (name, self.model.products[sku][1])

    # Inbound messages -----------------------------------------------------------------------

    @rule(order=orders, twice=st.booleans())
    def payment_message(self, order: UUID, twice: bool) -> None:
        """A partner's captured payment, delivered once or twice (the same message)."""
        state = self.model.orders[order]
        payment_id = self.next_message()
        body = cloud_event(
            PAYMENT_CAPTURED,
            payment_id,
            {"order_id": str(order), "payment_id": payment_id, "amount": str(state.total), "currency": "EUR"},
        )
        expected = "applied" if state.may("pay") else "dead-lettered"
        for _ in range(2 if twice else 1):
            assert deliver(body) == expected
        if expected == "applied":
            state.pay(payment_id)

    @rule(order=orders, kind=st.sampled_from([SHIPMENT_DISPATCHED, SHIPMENT_DELIVERED]))
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

    # The clock ------------------------------------------------------------------------------

    @rule()
    def deadlines_pass(self) -> None:
        """The clock passes every open payment deadline (PAYMENT_DEADLINE_SECONDS is 0: each
        falls due as its confirmation is projected): every confirmed, unpaid order is cancelled."""
        project()
        unpaid = [state for state in self.model.orders.values() if state.status is OrderStatus.CONFIRMED]
        assert expire_due() == len(unpaid)
        for state in unpaid:
            state.cancel()
        # Until the cancellations are projected their deadlines read as open, and a second run
        # sends the same commands again, which the bus takes as duplicates: projected, none is.
        project()
        assert expire_due() == 0

    # The projection engine ------------------------------------------------------------------

    @rule(order=orders)
    def projection_bug(self, order: UUID) -> None:
        """A bug in the orders projection that fires on this order's events until fixed."""
        BrokenOrders.poisoned.add(str(order))

    @precondition(lambda self: bool(BrokenOrders.poisoned or self.blocked))
    @rule()
    def fix_and_retry(self) -> None:
        """The bug fixed and the dead letters retried: each blocked order flows again."""
        BrokenOrders.poisoned.clear()
        projector = Projector(all_projections()["orders"])
        for stream in sorted(self.blocked):
            assert projector.retry_stream(stream)
        self.blocked.clear()

    @precondition(lambda self: bool(self.blocked))
    @rule(data=st.data())
    def skip(self, data: st.DataObject) -> None:
        """An operator skips a blocked order's failing event: its read models miss that event
        until a replay (rewind or rebuild) applies it with the bug fixed."""
        # In the order the orders were placed: their ids differ from run to run.
        stream = data.draw(st.sampled_from([str(order) for order in self.model.orders if str(order) in self.blocked]))
        projector = Projector(all_projections()["orders"])
        if projector.retry_stream(stream, skip_first=True):
            self.blocked.discard(stream)
        self.skipped.add(stream)

    @rule()
    def rewind(self) -> None:
        """Every rebuildable projection's checkpoints moved back to the start and replayed."""
        names = [name for name, projection in all_projections().items() if projection.rebuildable]
        ProjectionCheckpoint.objects.using(read_database()).filter(projection__in=names).update(position=0)
        self.replayed()

    @rule(in_place=st.booleans())
    def rebuild(self, in_place: bool) -> None:
        """Every rebuildable projection rebuilt: blue/green, or in place as the documented role."""
        if in_place:
            with least_privileged():
                rebuild_by_name([])
        else:
            rebuild_by_name([])
        self.replayed()

    # Checks ---------------------------------------------------------------------------------

    @invariant()
    def served_state_is_the_models(self) -> None:
        project()
        self.steps += 1
        self.blocked |= set(self.letters(DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED, DeadLetter.Status.HELD))
        unsure = self.blocked | self.skipped | BrokenOrders.poisoned
        for order_id, expected in self.model.orders.items():
            if str(order_id) in unsure:
                continue
            served = order_detail(order_id)
            assert served is not None, order_id
            assert (served.status, served.refund_due) == (expected.status.value, expected.refund_due), order_id
            assert (served.customer_email is None) == expected.email_forgotten, order_id
            assert served.shipping_address is not None
            assert (served.shipping_address.name is None) == expected.address_forgotten, order_id
        for sku, (name, on_hand) in self.model.products.items():
            product = product_stock(sku)
            assert product is not None, sku
            assert (product.name, product.on_hand) == (name, on_hand), sku
        if self.steps % VERIFY_EVERY == 0:
            self.books_verify()

    def teardown(self) -> None:
        BrokenOrders.poisoned.clear()
        try:
            if self.blocked:
                self.fix_and_retry()
            if self.skipped:
                rebuild_by_name([])
                self.replayed()
            project()
            self.books_verify()
        finally:
            BrokenOrders.poisoned.clear()

    def books_verify(self) -> None:
        """No divergence; the read models are compared with a fresh replay only while no
        order is knowingly behind (a projection bug, a dead letter, a skip)."""
        knowingly_behind = self.blocked or self.skipped or BrokenOrders.poisoned
        names = ["relay", "forgotten", "audit"] if knowingly_behind else []
        divergences = verify(names)
        assert not divergences, "\n".join(map(str, divergences))

    # Helpers --------------------------------------------------------------------------------

    def expect(self, command: Any, *, taken: bool) -> bool:
        """Send `command`; the model said whether the bus takes or refuses it."""
        result = outcome(command)
        if taken:
            assert not isinstance(result, DomainError), f"{type(command).__name__} refused: {result!r}"
        else:
            assert isinstance(result, DomainError), f"{type(command).__name__} taken: {result!r}"
        return taken

    def next_message(self) -> str:
        self.messages += 1
        return f"m-{self.messages}"

    def letters(self, *statuses: str) -> list[str]:
        rows = DeadLetter.objects.using(read_database()).filter(projection="orders", status__in=statuses)
        return list(rows.values_list("stream_id", flat=True))

    def replayed(self) -> None:
        """After a replay with the bug fixed, a skipped event is applied: nothing is behind
        for it any more. With the bug still there, the replay dead-letters again."""
        project()
        if not BrokenOrders.poisoned:
            self.skipped.clear()


def test_the_back_office_keeps_its_promises_whatever_the_features_do_to_each_other(settings: Any) -> None:
    settings.PROJECTIONS = [BROKEN_ORDERS if path == ORDERS else path for path in settings.PROJECTIONS]
    settings.PROJECTIONS_INLINE = False
    settings.EVENT_SUBSCRIBERS = []
    settings.SNAPSHOT_EVERY = 3
    settings.PAYMENT_DEADLINE_SECONDS = 0
    settings.PROJECTION_MAX_ATTEMPTS = 2
    settings.PROJECTION_RETRY_BASE_SECONDS = 0
    run_state_machine_as_test(BackOffice, settings=settings_profile())


def settings_profile() -> settings:
    return settings.get_profile(PROFILE)
