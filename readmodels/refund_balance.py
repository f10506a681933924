"""The refunds check (`manage.py verify --check refunds`): every refund due is paid or listed as owed.

The guarantee it checks: what an order came to owe back is either paid back or shown as still
owed, on the order list staff and billing work from (`?refund_due=true`, the admin's "refund
owed" filter: OrderSummary) and on the order's page (OrderDetail). Counted from the order's
stream, event by event:

* owed: what a cancellation owed (its `refund_due`; for one recorded before refunds were,
  what had been paid), a payment captured after the cancellation, the value of goods returned;
* paid: the refunds paid (RefundPaid), never more than was owed;
* each row's `refunded` is what was paid, and its `refund_due` what is left: owed - paid.

Each row is compared with its stream as of the row's own version, so a read model catching up
is compared with the log where it stands, never reported as diverging.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db.models import Model

from eventlog.recorded import RecordedEvent
from orders.events import OrderCancelled, OrderPaid, OrderReturned, PaymentCapturedAfterCancellation, RefundPaid
from projector.loop import read_database
from projector.verification import Divergence, Options
from readmodels.models import OrderDetail, OrderSummary
from readmodels.sales_balance import order_events

CHECK = "refunds"
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Movement:
    """What one event of an order's stream owed back or paid back."""

    version: int
    owed: Decimal = ZERO
    paid: Decimal = ZERO


class RefundTally:
    """Per order, the events that owed or paid money back, in stream order."""

    def __init__(self) -> None:
        self.movements: defaultdict[UUID, list[Movement]] = defaultdict(list)
        self._paid: dict[UUID, Decimal] = {}  # what each order was paid, for cancellations of old

    def count(self, recorded: RecordedEvent) -> None:
        """Note one event of an order stream."""
        event, order_id = recorded.event, UUID(recorded.stream_id)
        match event:
            case OrderPaid(amount=amount):
                self._paid[order_id] = amount
            case OrderCancelled(refund_due=refund_due):
                owed = self._paid.get(order_id, ZERO) if refund_due is None else refund_due
                self._note(order_id, Movement(recorded.version, owed=owed))
            case PaymentCapturedAfterCancellation(amount=amount) | OrderReturned(amount=amount):
                self._note(order_id, Movement(recorded.version, owed=amount))
            case RefundPaid(amount=amount):
                self._note(order_id, Movement(recorded.version, paid=amount))

    def _note(self, order_id: UUID, movement: Movement) -> None:
        if movement.owed or movement.paid:
            self.movements[order_id].append(movement)

    def as_of(self, order_id: UUID, version: int) -> tuple[Decimal, Decimal]:
        """(owed, paid) by the order's events up to `version`."""
        upto = [movement for movement in self.movements.get(order_id, ()) if movement.version <= version]
        return sum((m.owed for m in upto), ZERO), sum((m.paid for m in upto), ZERO)


def refunds_owed(options: Options) -> list[Divergence]:
    """Every order row that does not show what its stream owes and has paid back (module docstring)."""
    using = read_database()
    # The rows first: each is as of its version, and the log read after holds every event up to it.
    shown = {table: _rows(table, using) for table in (OrderSummary, OrderDetail)}
    tally = RefundTally()
    for recorded in order_events(using):
        tally.count(recorded)
    found: list[Divergence] = []
    for order_id in sorted(tally.movements, key=str):
        owed, paid = tally.as_of(order_id, tally.movements[order_id][-1].version)
        if paid > owed:
            found.append(Divergence(CHECK, f"order {order_id}", f"{paid} was paid back of {owed} owed"))
    for table, rows in shown.items():
        for order_id, (refund_due, refunded, version) in rows.items():
            owed, paid = tally.as_of(order_id, version)
            subject = f"order {order_id} (v{version}) in {table._meta.db_table}"
            if refunded != paid:
                found.append(Divergence(CHECK, subject, f"refunded is {refunded}; its refunds paid add up to {paid}"))
            if refund_due != owed - paid:
                found.append(
                    Divergence(CHECK, subject, f"refund_due is {refund_due}; it was owed {owed} and paid back {paid}")
                )
    return found


def _rows(table: type[Model], using: str) -> dict[UUID, tuple[Decimal, Decimal, int]]:
    rows = table._default_manager.using(using).values_list("order_id", "refund_due", "refunded", "version")
    return {order_id: (due, refunded, version) for order_id, due, refunded, version in rows.iterator()}
