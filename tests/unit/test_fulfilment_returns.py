"""The fulfilment process on a restocking return: one RestockReturned per tracked SKU, with
an id derived from the return, so the same return handled twice sends the same commands."""

from __future__ import annotations

from uuid import uuid4

from fulfilment import process
from fulfilment.process import Fulfilment, LineStatus, ProcessStatus
from inventory.commands import RestockReturned


def test_a_return_restocks_tracked_skus_only_with_ids_from_the_return() -> None:
    order_id = uuid4()
    current = Fulfilment(
        order_id=order_id,
        correlation_id=uuid4(),
        status=ProcessStatus.RESERVED,
        quantities={"A": 2, "B": 1},
        lines={"A": LineStatus.RESERVED, "B": LineStatus.RESERVED},
    )
    cause = uuid4()
    decision = process.goods_returned(current, {"A": 1, "UNTRACKED": 3}, cause)
    assert decision.process == current
    (command,) = decision.commands
    assert isinstance(command, RestockReturned)
    assert (command.sku, command.order_id, command.quantity) == ("A", order_id, 1)
    assert command.command_id == f"fulfilment:{cause}:restock:A"
    assert command.metadata.causation_id == cause
    assert process.goods_returned(current, {"A": 1, "UNTRACKED": 3}, cause).commands == decision.commands
