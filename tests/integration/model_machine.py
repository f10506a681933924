"""The state the model-based test's rules share (tests/integration/test_model.py composes the
rule sets of model_rules.py, model_engine_rules.py and model_invariants.py on this base): the
model, what is knowingly behind in the read models, the broker the relay publishes through,
and the helpers every rule uses to send a command and say what the model expects of it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import factory.random
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine

from projector.loop import read_database
from projector.models import DeadLetter
from tests.integration.backoffice_model import Model
from tests.integration.model_levers import BrokenOrders, FlakyBroker, empty_databases, outcome, project
from writeside.errors import DomainError

ORDERS = Bundle("orders")
CUSTOMER_IDS = ("c-ada", "c-bob", "c-cy")
CUSTOMERS = st.sampled_from(CUSTOMER_IDS)


class MachineBase(RuleBasedStateMachine):
    """The back office and its model, side by side; each example starts from empty databases."""

    # Set by the test before it runs the machine: one broker (and its proxy) for every example.
    broker: ClassVar[FlakyBroker]

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
