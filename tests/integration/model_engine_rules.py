"""The model-based test's rules for what runs behind the commands: the payment deadline's
checker at controlled moments (and payments racing it), the projection engine (a bug, its
dead letters retried or skipped, checkpoint rewinds, rebuilds in place and blue/green), and
the integration broker the relay publishes through, cut and restored, with the relay run
alone (as a worker runs it) or in a batch it shares with the read models.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import multiple, precondition, rule

from eventlog.buckets import bucket_of
from fulfilment.deadlines import expire_due
from integration.broker import BrokerUnavailable
from integration.relay import RelayProjection
from projector.loop import Projector, read_database, run_batch
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.rebuild_progress import rebuild_by_name
from projector.registry import all_projections
from tests.factories import PayOrderFactory
from tests.integration.model_levers import BrokenOrders, project
from tests.integration.model_machine import CUSTOMERS, ORDERS, MachineBase
from tests.integration.model_rules import OrderRules
from tests.support.grants import least_privileged

# Customers whose orders are confirmed one after another in a deadline rule.
CONFIRMED_IN_TURN = st.lists(CUSTOMERS, min_size=1, max_size=3)


class ClockRules(MachineBase):
    """The payment deadlines of orders confirmed at different times, checked at chosen moments
    (PAYMENT_DEADLINE_SECONDS is an hour: nothing falls due by itself during a run)."""

    @rule(target=ORDERS, customers=CONFIRMED_IN_TURN, data=st.data(), at_the_instant=st.booleans())
    def deadlines_fall_due(self, customers: list[str], data: st.DataObject, at_the_instant: bool) -> Any:
        """Orders placed and confirmed one after another, then the checker run at a moment
        picked among every open deadline: at one order's instant (that order and every order
        due before it are cancelled, those due after are not) or a microsecond before it."""
        placed = self.confirmed_in_turn(customers)
        due = data.draw(st.sampled_from(self.model.open_deadlines()))
        self.checked_twice(due if at_the_instant else due - timedelta(microseconds=1))
        return multiple(*placed)

    @rule(target=ORDERS, customers=CONFIRMED_IN_TURN, data=st.data(), first=st.booleans(), by_message=st.booleans())
    def payment_races_the_deadline(
        self, customers: list[str], data: st.DataObject, first: bool, by_message: bool
    ) -> Any:
        """A payment (by command or a partner's message) and the checker at the order's due
        instant, with nothing projected in between (its deadline still reads open): paid
        first, the checker's cancel is refused and the order stays paid; checked first, it is
        cancelled and the payment is owed back. Orders due by then are cancelled either way."""
        placed = self.confirmed_in_turn(customers)
        raced = data.draw(st.sampled_from(placed))
        moment = self.model.orders[raced].due_at
        assert moment is not None
        if first:
            self.payment(raced, by_message)
        self.deadlines_checked(moment)
        if not first:
            self.payment(raced, by_message)
        self.checked_twice(moment, already=True)
        return multiple(*placed)

    def confirmed_in_turn(self, customers: list[str]) -> list[UUID]:
        """An order per customer, each confirmed in turn (so at a later time), projected."""
        placed = [self.placed(customer, 1) for customer in customers]
        for order in placed:
            self.confirmed(order)
        project()
        return placed

    def checked_twice(self, moment: datetime, *, already: bool = False) -> None:
        """The check at `moment` (unless `already` run), then, projected, the cancelled
        orders' deadlines are closed: a second check at the same moment sends nothing."""
        if not already:
            self.deadlines_checked(moment)
        project()
        again = expire_due(now=moment)
        assert again == 0, f"a second check at {moment} cancelled {again} orders again"

    def deadlines_checked(self, moment: datetime) -> None:
        cancelled = self.model.due_by(moment)
        sent = expire_due(now=moment)
        assert sent == len(cancelled), f"the check at {moment} cancelled {sent} orders; the model: {len(cancelled)}"
        for state in cancelled:
            state.cancel()

    def payment(self, order: UUID, by_message: bool) -> None:
        if by_message:
            self.captured(order)
            return
        state = self.model.orders[order]
        command = PayOrderFactory(order_id=order, amount=state.total)
        if self.expect(command, taken=state.may("pay")):
            state.pay(command.payment_id)


class EngineRules(OrderRules):
    """The projection engine's faults and an operator's remedies."""

    @rule(order=ORDERS)
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

    @rule(relay=st.booleans())
    def rewind(self, relay: bool) -> None:
        """Every rebuildable projection's checkpoints moved back to the start and replayed; with
        `relay`, the relay's too (docs/operations.md's way to publish again: same ids)."""
        names = [name for name, projection in all_projections().items() if projection.rebuildable]
        names += [RelayProjection.name] if relay else []
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


class BrokerRules(MachineBase):
    """The integration broker cut and restored under the relay."""

    @precondition(lambda self: self.broker.up)
    @rule()
    def broker_cut(self) -> None:
        """Every connection through the proxy closed, new ones refused: the relay's next publish fails."""
        self.broker.cut()

    @precondition(lambda self: not self.broker.up)
    @rule()
    def broker_restored(self) -> None:
        self.broker.restore()

    @rule(target=ORDERS, customer=CUSTOMERS, broker_up=st.booleans())
    def relay_shares_a_batch(self, customer: str, broker_up: bool) -> UUID:
        """With the broker cut or up, an order placed and its partition run in one batch the
        relay shares with the read models (run_batch, as a deployment letting the relay share
        would run it). With the broker cut the batch raises BrokerUnavailable whole, re-raised rather than isolated
        into dead letters, and nothing of it stays: no checkpoint moved, no dead letter."""
        if broker_up:
            self.broker.restore()
        else:
            self.broker.cut()
        order = self.placed(customer, 1)
        partition = partition_of_bucket(bucket_of(str(order)))
        projections = {
            name: projection
            for name, projection in all_projections().items()
            if projection.shares_batches or isinstance(projection, RelayProjection)
        }
        before = self.engine_state()
        try:
            run_batch(partition, projections, wait=True)
        except BrokerUnavailable:
            assert not self.broker.up, "the broker is up, yet the relay's batch failed"
            assert self.engine_state() == before
        else:
            assert self.broker.up, "the broker is cut, yet the relay's batch went through"
        return order

    def engine_state(self) -> tuple[list[tuple[str, int, int]], int]:
        """Every checkpoint, and how many dead letters there are."""
        using = read_database()
        checkpoints = ProjectionCheckpoint.objects.using(using).order_by("projection", "partition")
        rows = list(checkpoints.values_list("projection", "partition", "position"))
        return rows, DeadLetter.objects.using(using).count()
