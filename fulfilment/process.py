"""The fulfilment process's decisions, as pure functions of its state and one event.

From a confirmed order's tracked lines to "stock reserved" or "out of stock": reserve every
line; when all are reserved, tell the order; when one fails, release the others and cancel
the order; when the order is cancelled, release everything; when it ships, consume every
line's reservation (and a reservation that lands after the shipment as soon as it lands).

Every command gets an id derived from the event that caused it, so an event delivered or
replayed twice produces the same commands, which the bus answers from its command records
without appending anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from inventory.commands import ConsumeStock, ReleaseStock, ReserveStock, RestockReturned
from orders.commands import CancelOrder, MarkStockReserved
from writeside.commands import Command, CommandMetadata

SOURCE = "fulfilment"


class LineStatus(StrEnum):
    """Where one tracked line's reservation stands."""

    PENDING = "PENDING"
    RESERVED = "RESERVED"
    FAILED = "FAILED"
    CONSUMED = "CONSUMED"


class ProcessStatus(StrEnum):
    """Where the order's fulfilment stands."""

    RESERVING = "RESERVING"
    RESERVED = "RESERVED"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    RELEASED = "RELEASED"
    SHIPPED = "SHIPPED"


# Where a process holds reservations a shipment would consume.
HOLDING_STOCK = (ProcessStatus.RESERVING, ProcessStatus.RESERVED)


@dataclass(frozen=True, kw_only=True)
class Fulfilment:
    """One order's process: its tracked lines and their reservations."""

    order_id: UUID
    correlation_id: UUID
    status: ProcessStatus
    quantities: Mapping[str, int]
    lines: Mapping[str, LineStatus]


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The process's next state and the commands it sends."""

    process: Fulfilment
    commands: tuple[Command, ...] = ()


def _metadata(process: Fulfilment, cause: UUID) -> CommandMetadata:
    # The order's story (correlation) continues across product streams; the cause is the event.
    return CommandMetadata(correlation_id=process.correlation_id, causation_id=cause, source=SOURCE)


def _per_line(
    command_type: type[ReleaseStock] | type[ConsumeStock], step: str, process: Fulfilment, cause: UUID, skus: list[str]
) -> tuple[Command, ...]:
    # One stock command per line, each with an id derived from the event that caused it.
    return tuple(
        command_type(
            command_id=f"{SOURCE}:{cause}:{step}:{sku}",
            metadata=_metadata(process, cause),
            sku=sku,
            order_id=process.order_id,
        )
        for sku in skus
    )


def _release(process: Fulfilment, cause: UUID, skus: list[str]) -> tuple[Command, ...]:
    return _per_line(ReleaseStock, "release", process, cause, skus)


def _consume(process: Fulfilment, cause: UUID, skus: list[str]) -> tuple[Command, ...]:
    return _per_line(ConsumeStock, "consume", process, cause, skus)


def start(order_id: UUID, correlation_id: UUID, cause: UUID, quantities: Mapping[str, int]) -> Decision:
    """An order was confirmed with tracked lines: reserve each of them."""
    process = Fulfilment(
        order_id=order_id,
        correlation_id=correlation_id,
        status=ProcessStatus.RESERVING,
        quantities=dict(quantities),
        lines=dict.fromkeys(quantities, LineStatus.PENDING),
    )
    commands = tuple(
        ReserveStock(
            command_id=f"{SOURCE}:{cause}:reserve:{sku}",
            metadata=_metadata(process, cause),
            sku=sku,
            order_id=order_id,
            quantity=quantity,
        )
        for sku, quantity in quantities.items()
    )
    return Decision(process=process, commands=commands)


def stock_reserved(process: Fulfilment, sku: str, cause: UUID) -> Decision:
    """A line's stock was reserved: the order is told once every line is."""
    if sku not in process.lines:
        return Decision(process=process)
    if process.lines[sku] in (LineStatus.RESERVED, LineStatus.CONSUMED):
        return Decision(process=process)  # seen already (a redelivery)
    if process.status is ProcessStatus.SHIPPED:
        return _late_reservation_of_shipped(process, sku, cause)
    process = replace(process, lines={**process.lines, sku: LineStatus.RESERVED})
    if process.status is ProcessStatus.RESERVING:
        if all(status is LineStatus.RESERVED for status in process.lines.values()):
            command = MarkStockReserved(
                command_id=f"{SOURCE}:{cause}:stock-reserved",
                metadata=_metadata(process, cause),
                order_id=process.order_id,
            )
            return Decision(process=replace(process, status=ProcessStatus.RESERVED), commands=(command,))
        return Decision(process=process)
    if process.status is ProcessStatus.RESERVED:
        return Decision(process=process)  # told the order already (a redelivery)
    # The order is out of stock or cancelled already: a late reservation goes straight back.
    return Decision(process=process, commands=_release(process, cause, [sku]))


def reservation_failed(process: Fulfilment, sku: str, cause: UUID) -> Decision:
    """A line could not be reserved: release the others and cancel the order."""
    if sku not in process.lines:
        return Decision(process=process)
    process = replace(process, lines={**process.lines, sku: LineStatus.FAILED})
    if process.status is not ProcessStatus.RESERVING:
        return Decision(process=process)
    others = [other for other in process.lines if other != sku]
    cancel = CancelOrder(
        command_id=f"{SOURCE}:{cause}:cancel",
        metadata=_metadata(process, cause),
        order_id=process.order_id,
        reason=f"out of stock: {sku}",
    )
    return Decision(
        process=replace(process, status=ProcessStatus.OUT_OF_STOCK),
        commands=(*_release(process, cause, others), cancel),
    )


def order_cancelled(process: Fulfilment, cause: UUID) -> Decision:
    """The order was called off: give back every reservation it holds."""
    if process.status in (ProcessStatus.OUT_OF_STOCK, ProcessStatus.RELEASED, ProcessStatus.SHIPPED):
        # Released when it ran out of stock, or already; a shipped order's goods are gone.
        return Decision(process=process)
    return Decision(
        process=replace(process, status=ProcessStatus.RELEASED),
        commands=_release(process, cause, list(process.lines)),
    )


def order_shipped(process: Fulfilment, cause: UUID) -> Decision:
    """The order left with a carrier: its reserved units left with it.

    Each reserved line is consumed now; a line still waiting for its reservation is
    consumed when the reservation lands (`stock_reserved`). An order that ran out of stock
    or was cancelled gave its reservations back already: there is nothing left to consume.
    """
    if process.status not in HOLDING_STOCK:
        return Decision(process=process)  # shipped already (a redelivery), or nothing is held
    reserved = [sku for sku, status in process.lines.items() if status is LineStatus.RESERVED]
    lines = {**process.lines, **dict.fromkeys(reserved, LineStatus.CONSUMED)}
    return Decision(
        process=replace(process, status=ProcessStatus.SHIPPED, lines=lines),
        commands=_consume(process, cause, reserved),
    )


def _late_reservation_of_shipped(process: Fulfilment, sku: str, cause: UUID) -> Decision:
    # The order shipped before this line's reservation landed: the units left already.
    return Decision(
        process=replace(process, lines={**process.lines, sku: LineStatus.CONSUMED}),
        commands=_consume(process, cause, [sku]),
    )


# Returns: goods a customer sent back go on hand again.


def goods_returned(process: Fulfilment, returned: Mapping[str, int], cause: UUID) -> Decision:
    """A return with restock came in: put each tracked SKU's returned units back on hand,
    with a command id derived from the return, so the return restocks exactly once. Lines that
    are no registered product (not tracked at confirmation) have no stock to go back to."""
    commands = tuple(
        RestockReturned(
            command_id=f"{SOURCE}:{cause}:restock:{sku}",
            metadata=_metadata(process, cause),
            sku=sku,
            order_id=process.order_id,
            quantity=quantity,
        )
        for sku, quantity in returned.items()
        if sku in process.quantities
    )
    return Decision(process=process, commands=commands)
