"""The fulfilment process's decisions: pure functions of its state and one event."""

from __future__ import annotations

from uuid import UUID, uuid4

from fulfilment import process
from fulfilment.process import Fulfilment, LineStatus, ProcessStatus
from inventory.commands import ConsumeStock, ReleaseStock, ReserveStock
from orders.commands import CancelOrder, MarkStockReserved
from writeside.commands import CommandMetadata

ORDER, STORY = uuid4(), uuid4()


def meta(cause: UUID) -> CommandMetadata:
    return CommandMetadata(correlation_id=STORY, causation_id=cause, source="fulfilment")


def started(cause: UUID | None = None) -> Fulfilment:
    return process.start(ORDER, STORY, cause or uuid4(), {"A": 2, "B": 1}).process


def test_a_confirmed_order_reserves_every_tracked_line_with_ids_from_the_event() -> None:
    cause = uuid4()
    decision = process.start(ORDER, STORY, cause, {"A": 2, "B": 1})
    assert decision.process.status is ProcessStatus.RESERVING
    assert decision.commands == (
        ReserveStock(
            command_id=f"fulfilment:{cause}:reserve:A", metadata=meta(cause), sku="A", order_id=ORDER, quantity=2
        ),
        ReserveStock(
            command_id=f"fulfilment:{cause}:reserve:B", metadata=meta(cause), sku="B", order_id=ORDER, quantity=1
        ),
    )
    # Deterministic: the same event decides the same commands (the bus dedupes them).
    assert process.start(ORDER, STORY, cause, {"A": 2, "B": 1}).commands == decision.commands


def test_commands_carry_the_orders_story_and_their_cause() -> None:
    cause = uuid4()
    command = process.start(ORDER, STORY, cause, {"A": 2}).commands[0]
    assert (command.metadata.correlation_id, command.metadata.causation_id) == (STORY, cause)
    assert command.metadata.source == "fulfilment"


def test_the_order_is_told_only_when_the_last_line_is_reserved() -> None:
    first = process.stock_reserved(started(), "A", uuid4())
    assert first.commands == ()
    cause = uuid4()
    last = process.stock_reserved(first.process, "B", cause)
    assert last.process.status is ProcessStatus.RESERVED
    assert last.commands == (
        MarkStockReserved(command_id=f"fulfilment:{cause}:stock-reserved", metadata=meta(cause), order_id=ORDER),
    )
    assert process.stock_reserved(last.process, "B", cause).commands == ()  # a redelivery


def test_a_failed_line_releases_the_others_and_cancels_with_the_reason() -> None:
    cause = uuid4()
    reserved = process.stock_reserved(started(), "A", uuid4()).process
    decision = process.reservation_failed(reserved, "B", cause)
    assert decision.process.status is ProcessStatus.OUT_OF_STOCK
    assert decision.process.lines == {"A": LineStatus.RESERVED, "B": LineStatus.FAILED}
    assert decision.commands == (
        ReleaseStock(command_id=f"fulfilment:{cause}:release:A", metadata=meta(cause), sku="A", order_id=ORDER),
        CancelOrder(
            command_id=f"fulfilment:{cause}:cancel", metadata=meta(cause), order_id=ORDER, reason="out of stock: B"
        ),
    )


def test_a_second_failure_decides_nothing_more() -> None:
    failed = process.reservation_failed(started(), "A", uuid4()).process
    assert process.reservation_failed(failed, "B", uuid4()).commands == ()


def test_a_reservation_arriving_after_the_order_ran_out_is_given_back() -> None:
    failed = process.reservation_failed(started(), "B", uuid4()).process
    cause = uuid4()
    late = process.stock_reserved(failed, "A", cause)
    assert late.process.status is ProcessStatus.OUT_OF_STOCK
    assert late.commands == (
        ReleaseStock(command_id=f"fulfilment:{cause}:release:A", metadata=meta(cause), sku="A", order_id=ORDER),
    )


def test_cancelling_the_order_releases_every_line_once() -> None:
    cause = uuid4()
    decision = process.order_cancelled(started(), cause)
    assert decision.process.status is ProcessStatus.RELEASED
    assert [(type(c), c.sku) for c in decision.commands if isinstance(c, ReleaseStock)] == [
        (ReleaseStock, "A"),
        (ReleaseStock, "B"),
    ]
    assert process.order_cancelled(decision.process, uuid4()).commands == ()


def test_the_processs_own_cancellation_releases_nothing_twice() -> None:
    out_of_stock = process.reservation_failed(started(), "A", uuid4()).process
    assert process.order_cancelled(out_of_stock, uuid4()).commands == ()


def test_events_for_lines_it_does_not_track_change_nothing() -> None:
    state = started()
    assert process.stock_reserved(state, "OTHER", uuid4()).process == state
    assert process.reservation_failed(state, "OTHER", uuid4()).commands == ()


# Shipping: the reservations leave with the goods.


def reserved_process() -> Fulfilment:
    state = process.stock_reserved(started(), "A", uuid4()).process
    return process.stock_reserved(state, "B", uuid4()).process


def test_shipping_consumes_every_reserved_line_with_ids_from_the_event() -> None:
    cause = uuid4()
    decision = process.order_shipped(reserved_process(), cause)
    assert decision.process.status is ProcessStatus.SHIPPED
    assert decision.process.lines == {"A": LineStatus.CONSUMED, "B": LineStatus.CONSUMED}
    assert decision.commands == (
        ConsumeStock(command_id=f"fulfilment:{cause}:consume:A", metadata=meta(cause), sku="A", order_id=ORDER),
        ConsumeStock(command_id=f"fulfilment:{cause}:consume:B", metadata=meta(cause), sku="B", order_id=ORDER),
    )
    # Deterministic from the same event, and a redelivery after it decides nothing.
    assert process.order_shipped(reserved_process(), cause).commands == decision.commands
    assert process.order_shipped(decision.process, cause).commands == ()
    assert process.order_shipped(decision.process, uuid4()).commands == ()


def test_a_reservation_landing_after_the_shipment_is_consumed_once() -> None:
    partly = process.stock_reserved(started(), "A", uuid4()).process
    shipped = process.order_shipped(partly, uuid4())
    assert [command.sku for command in shipped.commands if isinstance(command, ConsumeStock)] == ["A"]
    assert shipped.process.lines["B"] is LineStatus.PENDING
    cause = uuid4()
    late = process.stock_reserved(shipped.process, "B", cause)
    assert late.commands == (
        ConsumeStock(command_id=f"fulfilment:{cause}:consume:B", metadata=meta(cause), sku="B", order_id=ORDER),
    )
    assert late.process.lines == {"A": LineStatus.CONSUMED, "B": LineStatus.CONSUMED}
    # Redelivered, either reservation decides nothing more.
    assert process.stock_reserved(late.process, "B", cause).commands == ()
    assert process.stock_reserved(late.process, "A", uuid4()).commands == ()


def test_a_reservation_failing_after_the_shipment_cancels_nothing() -> None:
    shipped = process.order_shipped(started(), uuid4()).process
    decision = process.reservation_failed(shipped, "A", uuid4())
    assert decision.commands == ()
    assert decision.process.status is ProcessStatus.SHIPPED


def test_a_cancelled_or_out_of_stock_order_has_nothing_left_to_consume() -> None:
    cancelled = process.order_cancelled(reserved_process(), uuid4()).process
    assert process.order_shipped(cancelled, uuid4()).commands == ()
    out_of_stock = process.reservation_failed(started(), "A", uuid4()).process
    assert process.order_shipped(out_of_stock, uuid4()).commands == ()


def test_a_shipped_order_releases_nothing_when_a_cancellation_follows() -> None:
    shipped = process.order_shipped(reserved_process(), uuid4()).process
    assert process.order_cancelled(shipped, uuid4()).commands == ()
