"""The fulfilment process manager: it follows the event log like a projection (same
partitions, checkpoints, doorbells and dead letters) but, unlike one, it sends commands.

Reacting once, in effect: its state row and the commands it sends commit together on the
event store's database, and each command's id is derived from the event that caused it,
so an event redelivered or replayed from checkpoint 0 yields commands the bus has already
recorded: nothing is appended twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction

from eventlog.recorded import RecordedEvent
from eventlog.store import APPEND_LOCK_KEY, event_store
from fulfilment import process
from fulfilment.models import FulfilmentProcess
from fulfilment.process import Decision, Fulfilment, LineStatus, ProcessStatus
from inventory.events import StockReservationFailed, StockReserved
from kernel.errors import InvalidTransition
from orders.domain import Order
from orders.events import OrderCancelled, OrderConfirmed, OrderReturned, OrderShipped
from projector.projection import Projection
from writeside import bus
from writeside.commands import Command
from writeside.unit_of_work import CommandResult

logger = logging.getLogger(__name__)

REACTS_TO = (OrderConfirmed, OrderCancelled, OrderShipped, StockReserved, StockReservationFailed, OrderReturned)


def _load(row: FulfilmentProcess) -> Fulfilment:
    return Fulfilment(
        order_id=row.order_id,
        correlation_id=row.correlation_id,
        status=ProcessStatus(row.status),
        quantities=dict(row.quantities),
        lines={sku: LineStatus(status) for sku, status in row.lines.items()},
    )


def correlation_of(event: RecordedEvent) -> UUID:
    """The story the event belongs to; events stored without one continue the order's own."""
    try:
        return UUID(str(event.metadata["correlation_id"]))
    except (KeyError, ValueError):
        return UUID(str(event.event.order_id))


def reacts_to(event: RecordedEvent) -> bool:
    """Whether the process may act on `event`. A confirmation without tracked stock starts
    nothing (whether or not a process exists, `_react` leaves it), so it is not even looked at."""
    if isinstance(event.event, OrderConfirmed):
        return bool(event.event.tracked_skus)
    if isinstance(event.event, OrderReturned):
        return event.event.restock  # goods kept aside are nothing to put back on hand
    return isinstance(event.event, REACTS_TO)


class FulfilmentProcessManager(Projection):
    """Reserves stock for confirmed orders, settles each order's fate from the outcome, and
    consumes the reservations of the orders that ship."""

    name: ClassVar[str] = "fulfilment"
    tables: ClassVar[tuple[Any, ...]] = (FulfilmentProcess,)
    # It sends commands: replaying it into empty tables is not a rebuild of anything.
    rebuildable: ClassVar[bool] = False

    def __init__(self, send: Callable[[Command], CommandResult] | None = None) -> None:
        self.send = send or bus.handle

    def can_share(self, events: Sequence[RecordedEvent]) -> bool:
        """Only without anything to react to: reacting takes the append lock, which a batch
        shared with the read models would hold while they wait on their rows (stalling every
        writer). With nothing to react to, its checkpoint moves with theirs, in their
        transaction, rather than in one of its own per doorbell."""
        return not self._relevant(events)

    @staticmethod
    def _relevant(events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        """The events the process may act on. A shipment counts only if its order's process
        still holds stock: most orders track none, and their shipments must not cost the
        lock. Which processes hold stock cannot change under this look: a process holds
        stock from the confirmation (which the shipment follows, in the same partition)
        until its shipment, its cancellation or its running out, after which it never
        holds any again."""
        relevant = [event for event in events if reacts_to(event)]
        shipped = {event.event.order_id for event in relevant if isinstance(event.event, OrderShipped)}
        if not shipped:
            return relevant
        holding = set(
            FulfilmentProcess.objects.using(str(settings.EVENTLOG_DATABASE))
            .filter(order_id__in=shipped, status__in=process.HOLDING_STOCK)
            .values_list("order_id", flat=True)
        )
        # A process this very batch starts (a replay into a state restored without it) holds too.
        holding |= {event.event.order_id for event in relevant if isinstance(event.event, OrderConfirmed)}
        return [
            event for event in relevant if not isinstance(event.event, OrderShipped) or event.event.order_id in holding
        ]

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """React to the events this process cares about, in log order."""
        relevant = self._relevant(events)
        if not relevant:
            return
        alias = str(settings.EVENTLOG_DATABASE)
        with transaction.atomic(using=alias):
            self._serialize_with_appends(alias)
            for event in relevant:
                self._react(event, alias)

    @staticmethod
    def _serialize_with_appends(alias: str) -> None:
        # The commands below take the event store's append lock; taking it before any
        # process row means every process-manager transaction locks in the same order
        # (append lock, then rows), so two partitions can never deadlock on each other.
        connection = connections[alias]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])

    def _react(self, event: RecordedEvent, alias: str) -> None:
        domain_event = event.event
        rows = FulfilmentProcess.objects.using(alias).select_for_update()
        row = rows.filter(order_id=domain_event.order_id).first()
        if isinstance(domain_event, OrderConfirmed):
            if row is not None or not domain_event.tracked_skus:
                return  # started already (a redelivery), or nothing to reserve
            self._carry_out(self._start(event, domain_event, alias), alias)
            return
        if row is None:
            return  # not an order this process tracks
        current = _load(row)
        if isinstance(domain_event, OrderReturned):
            returned = {line.sku: line.quantity for line in domain_event.lines}
            self._carry_out(process.goods_returned(current, returned, event.event_id), alias)
            return
        match domain_event:
            case StockReserved(sku=sku):
                decision = process.stock_reserved(current, sku, event.event_id)
            case StockReservationFailed(sku=sku):
                decision = process.reservation_failed(current, sku, event.event_id)
            case OrderShipped():
                decision = process.order_shipped(current, event.event_id)
            case _:
                decision = process.order_cancelled(current, event.event_id)
        self._carry_out(decision, alias)

    def _start(self, event: RecordedEvent, confirmed: OrderConfirmed, alias: str) -> Decision:
        # The order as it was when confirmed: its lines are final from then on.
        history = [
            recorded.event for recorded in event_store(alias).read_stream(event.stream_id, to_version=event.version)
        ]
        order = Order.replay(event.stream_id, history)
        quantities = {line.sku: line.quantity for line in order.state.lines if line.sku in confirmed.tracked_skus}
        return process.start(confirmed.order_id, correlation_of(event), event.event_id, quantities)

    def _carry_out(self, decision: Decision, alias: str) -> None:
        state = decision.process
        FulfilmentProcess.objects.using(alias).update_or_create(
            order_id=state.order_id,
            defaults={
                "correlation_id": state.correlation_id,
                "status": state.status.value,
                "quantities": dict(state.quantities),
                "lines": {sku: status.value for sku, status in state.lines.items()},
            },
        )
        for command in decision.commands:
            try:
                self.send(command)
            except InvalidTransition as error:
                # The order moved on (a customer cancelled it first): nothing left to do.
                logger.info("Fulfilment of %s: %s not applied: %s", state.order_id, type(command).__name__, error)
