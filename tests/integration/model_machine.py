"""The state the model-based test's rules share (tests/integration/test_model.py composes the
rule sets of model_rules.py, model_engine_rules.py and model_invariants.py on this base): the
model, what is knowingly behind in the read models, the broker the relay publishes through,
and the helpers rules use to send a command (or a partner's payment) and say what the model
expects of it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import factory.random
from django.conf import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine

from eventlog.models import StoredEvent
from integration.language import PAYMENT_CAPTURED
from kernel.errors import DomainError
from orders.events import OrderConfirmed
from orders.state import OrderStatus
from projector.loop import read_database
from projector.models import DeadLetter
from tests.factories import AddressFactory, ConfirmOrderFactory, CreateOrderFactory, LineItemFactory
from tests.integration.backoffice_model import Model, ModelOrder
from tests.integration.model_levers import (
    BrokenOrders,
    FlakyBroker,
    cloud_event,
    deliver,
    empty_databases,
    outcome,
    project,
)

ORDERS = Bundle("orders")
CUSTOMER_IDS = ("c-ada", "c-bob", "c-cy")
CUSTOMERS = st.sampled_from(CUSTOMER_IDS)


class MachineBase(RuleBasedStateMachine):
    """The back office and its model, side by side; each example starts from empty databases."""

    # Set by the test before it runs the machine: one broker (and its proxy) for every example.
    broker: ClassVar[FlakyBroker]
    # The books are checked after this many steps, and at the end (a fresh replay of the log
    # costs half a second or so).
    verify_every: ClassVar[int] = 5

    def __init__(self) -> None:
        super().__init__()
        empty_databases()
        factory.random.reseed_random("model")
        BrokenOrders.poisoned.clear()
        self.broker.fresh()
        self.model = Model()
        self.blocked: set[str] = set()  # order streams with dead letters of the orders projection
        self.skipped: set[str] = set()  # order streams with a skipped event, until a replay
        self.steps = 0
        self.messages = 0

    def expect(self, command: Any, *, taken: bool) -> bool:
        """Send `command`; the model said whether the bus takes or refuses it."""
        result = outcome(command)
        if taken:
            assert not isinstance(result, DomainError), f"{type(command).__name__} refused: {result!r}"
        else:
            assert isinstance(result, DomainError), f"{type(command).__name__} taken: {result!r}"
        return taken

    def placed(self, customer: str, quantity: int) -> UUID:
        """A new order of `quantity` items at 2.50 for the customer, taken."""
        command = CreateOrderFactory(
            customer_id=customer,
            customer_email=f"{customer}@example.org",
            shipping_address=AddressFactory(),
            items=(LineItemFactory(quantity=quantity, unit_price=Decimal("2.50")),),
        )
        self.expect(command, taken=True)
        self.model.orders[command.order_id] = ModelOrder(customer=customer, total=Decimal("2.50") * quantity)
        return UUID(str(command.order_id))

    def confirmed(self, order: UUID) -> None:
        """ConfirmOrder, taken while pending; its payment deadline runs from the database's
        time of the commit (as recorded on its event)."""
        state = self.model.orders[order]
        if self.expect(ConfirmOrderFactory(order_id=order), taken=state.may("confirm")):
            state.status = OrderStatus.CONFIRMED
            confirmation = StoredEvent.objects.get(stream_id=str(order), event_type=OrderConfirmed.__name__)
            state.due_at = confirmation.recorded_at + timedelta(seconds=settings.PAYMENT_DEADLINE_SECONDS)

    def captured(self, order: UUID, *, twice: bool = False) -> None:
        """payment.captured.v1 for the order's total: applied while the order may be paid (or,
        cancelled, recorded as owed back), dead-lettered otherwise."""
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
