"""tests/support/convergence.py on PostgreSQL: the worker has not converged while a process
manager's reaction, appended after the head was read, is still unprojected."""

from __future__ import annotations

from typing import Any

import pytest

from eventlog.store import EventStore
from orders.commands import CancelOrder
from projector.loop import Projector
from projector.partitions import partition_count
from projector.registry import all_projections
from projector.status import applied_through as checkpoints_of
from tests.support import convergence
from tests.support.convergence import converged
from tests.support.scenarios import order, row, stock
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MANAGER = "fulfilment"


def catch_up(*, only: str | None = None, but: str | None = None) -> None:
    """Catch up `only` that projection, or every one but `but`, on every partition."""
    for name, projection in all_projections().items():
        if name == but or (only is not None and name != only):
            continue
        projector = Projector(projection)
        for partition in range(partition_count()):
            projector.catch_up(partition)


def test_a_reaction_appended_after_the_head_was_read_is_not_convergence(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PROJECTIONS_INLINE = True
    stock("A", 10)
    order_id, _ = order(("A", 2))
    assert converged()
    assert row("A") == (10, 2, 8)
    # The cancellation is appended and projected by all but the process manager.
    settings.EVENT_SUBSCRIBERS = []
    handle(CancelOrder(order_id=order_id, reason="changed my mind"))
    catch_up(but=MANAGER)
    head = EventStore().head_position()
    assert not converged()  # the manager owes the cancellation

    # The worker's manager reacts (releasing the stock) between the head read and the checkpoints'.

    def manager_reacts_then(position: int) -> bool:
        catch_up(only=MANAGER)
        return checkpoints_of(position)

    monkeypatch.setattr(convergence, "applied_through", manager_reacts_then)
    assert not converged()
    # Every checkpoint is at the head read first, yet the release is not on the stock row.
    assert checkpoints_of(head)
    assert EventStore().head_position() > head
    assert row("A") == (10, 2, 8)

    monkeypatch.setattr(convergence, "applied_through", checkpoints_of)
    catch_up()
    assert converged()
    assert row("A") == (10, 0, 10)
