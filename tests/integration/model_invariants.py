"""The model-based test's checks after every step: the served state is the model's; every
snapshotted aggregate loads as its whole stream replays; every public event reached the
partner's queue, once in effect, while the broker is up; and, every few steps and at the end,
the books verify (projector/verification.py, `manage.py verify`'s engine: read models equal
a fresh replay, nothing of a forgotten customer can be decrypted, every committed command has
its audit row, every public event was published).
"""

from __future__ import annotations

from hypothesis.stateful import invariant

from projector.models import DeadLetter
from projector.verification import Options, verify
from readmodels.selectors.orders import order_detail
from readmodels.selectors.products import product_stock
from tests.integration.model_levers import BrokenOrders, project, snapshot_disagreements
from tests.integration.model_machine import MachineBase


class Invariants(MachineBase):
    """What must hold after every step, and at the end of every example."""

    @invariant()
    def public_events_are_published_once_in_effect(self) -> None:
        """While the broker is up (and so at the latest once it is back): no public event
        lost, none under two ids, each subject in order."""
        if self.broker.up:
            self.broker.published_once_in_effect()

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
        if self.steps % self.verify_every == 0:
            self.books_verify()

    @invariant()
    def snapshots_load_as_their_streams_replay(self) -> None:
        """Checked after every step, so right after each command that crossed SNAPSHOT_EVERY."""
        disagreements = snapshot_disagreements()
        assert not disagreements, "\n".join(disagreements)

    def teardown(self) -> None:
        """The broker back: then the books must verify in full."""
        try:
            self.broker.restore()
            project()
            self.books_verify()
        finally:
            BrokenOrders.poisoned.clear()
            self.broker.close()

    def books_verify(self) -> None:
        """No divergence; the read models are compared with a fresh replay only while no
        order is knowingly behind (a projection bug, a dead letter, a skip), the relay's
        publishing only while the broker is up (and once everything reached the partner)."""
        knowingly_behind = self.blocked or self.skipped or BrokenOrders.poisoned
        names = ["forgotten", "audit"] if knowingly_behind else ["read-models", "forgotten", "audit"]
        if self.broker.up:
            self.broker.published_once_in_effect()
            names.append("relay")
        divergences = verify(names, Options(wait_seconds=5))
        assert not divergences, "\n".join(map(str, divergences))
