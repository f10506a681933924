"""What the orders and sales projections carry into cold storage with an archived order, and how
a rebuild restores it instead of replaying the order's events (projector/carried.py).

Guarantee: a restored row is the row a replay of the order's events writes, because both are
made by the projection's own fold of those events:

- `orders`: the order's view folded from its events (OrderDetail's row; OrderSummary's is
  made from it on restore by the projection's own `summary_row`). Line names are left empty,
  as a fold leaves them: product streams are never archived, so the rebuild's replay of the
  hot log names every line of every named product, as a full replay does. OrderStatusCount
  is counted from the restored rows' statuses (each order adds one to its latest status, as
  `count_statuses` adds up).
- `sales`: the order's ledger entry and the increments its events add to the customer,
  lifetime-value and daily totals, folded by the projection's own `Deltas`. Totals are sums
  over orders, so the restore adds the carried increments up and writes them through the
  projection's own increments, and the replay of the hot log adds the other orders'.

Personal data (the e-mail and the addresses; the summary's name and search text are made
from them on restore) is carried only sealed under the key its events were sealed with:
forgetting the customer deletes that key, and the carried copy reads as erased like the segment. A row whose
key is gone when it is restored is refolded from the order's segment with the keys there are
then (the refold the live projection does on CustomerForgotten), never restored with holes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventlog.recorded import RecordedEvent
from eventlog.store import event_store
from projector.bulk import copy_rows
from projector.carried import opened, typed_row
from projector.projection import Sealer
from readmodels.models import OrderDetail, OrderSummary, SalesLedgerEntry
from readmodels.projections.order_view import fold_stream
from readmodels.projections.orders import count_statuses, summary_row
from readmodels.projections.sales import Deltas, LedgerEntry, add_deltas
from readmodels.projections.search_words import write_words


class CarriedOrderRow:
    """The personal fields of an order's carried detail row (read by eventlog/personal.py);
    the summary's name, e-mail and search text are made from them on restore."""

    personal_fields: ClassVar[tuple[str, ...]] = (
        "customer_email",
        "shipping_address",
        "billing_address",
    )
    data_subject: ClassVar[str] = "customer_id"


def carry_order(events: Sequence[RecordedEvent], seal: Sealer, timeline_entries: int) -> dict[str, Any] | None:
    """The order's detail row, sealed ({"refold": True} when it cannot be sealed); its
    summary row is made from it on restore, as the projection makes it."""
    view = fold_stream(events, timeline_entries)
    if view is None:
        return None
    detail = seal(CarriedOrderRow, view)
    return {"refold": True} if detail is None else {"detail": detail}


def restore_orders(carried: Sequence[tuple[str, Any]], using: str, timeline_entries: int) -> None:
    """Write the carried orders' rows and their status counts into the (empty) tables."""
    store = event_store()
    entries = [(stream_id, entry) for stream_id, entry in carried if entry]
    readable = iter(opened([entry["detail"] for _, entry in entries if "detail" in entry], store.using))
    details: list[dict[str, Any]] = []
    for stream_id, entry in entries:
        detail = next(readable) if "detail" in entry else None
        if detail is not None:
            view: dict[str, Any] | None = typed_row(OrderDetail, detail)
        else:  # its customer was forgotten: refolded with the keys there are now, as a replay does
            view = fold_stream(store.read_stream(stream_id), timeline_entries)
        if view is not None:
            details.append(view)
    copy_rows(using, OrderDetail, details)
    summaries = [summary_row(row) for row in details]
    copy_rows(using, OrderSummary, summaries)
    write_words(using, summaries, {})
    count_statuses(using, [(None, str(row["status"])) for row in details])


def carry_sale(events: Sequence[RecordedEvent]) -> dict[str, Any] | None:
    """The order's ledger entry and what its events add to the sales totals."""
    deltas = Deltas()
    entry: LedgerEntry | None = None
    for recorded in events:
        entry = deltas.fold(entry, recorded)
    if entry is None:
        return None
    return {
        "ledger": vars(entry),
        "customers": dict(deltas.customers),
        "last_order_at": deltas.last_order_at,
        "lifetime": [[customer, currency, amount] for (customer, currency), amount in deltas.lifetime.items()],
        "daily": [[day, currency, values] for (day, currency), values in deltas.daily.items()],
    }


def restore_sales(carried: Sequence[tuple[str, Any]], using: str) -> None:
    """Write the carried ledger entries, and add the carried increments to the totals."""
    deltas = Deltas()
    ledger: list[dict[str, Any]] = []
    for stream_id, entry in carried:
        if not entry:
            continue
        ledger.append(typed_row(SalesLedgerEntry, {"order_id": UUID(stream_id), **entry["ledger"]}))
        for customer, counts in entry["customers"].items():
            total = deltas.customers[customer]
            for index, count in enumerate(counts):
                total[index] += int(count)
        for customer, at in entry["last_order_at"].items():
            placed = datetime.fromisoformat(at)
            deltas.last_order_at[customer] = max(deltas.last_order_at.get(customer, placed), placed)
        for customer, currency, amount in entry["lifetime"]:
            deltas.lifetime[(customer, currency)] += Decimal(amount)
        for day, currency, values in entry["daily"]:
            daily = deltas.daily[(date.fromisoformat(day), currency)]
            for index, value in enumerate(values):
                daily[index] += Decimal(value)
    copy_rows(using, SalesLedgerEntry, ledger)
    add_deltas(deltas, using)
