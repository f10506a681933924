"""The `orders` projection: OrderSummary and OrderDetail, written from one per-order view
(the fold is readmodels/projections/order_view.py).

The detail keeps only the latest `timeline_entries` (ORDER_TIMELINE_ENTRIES) timeline
entries and a count of all of them, so writing an order's row costs the same at its 10th
event and its 10,000th; the whole story is the history endpoint's, a page at a time.

CustomerForgotten refolds each of the customer's orders from the log, up to the version its
row has: the customer's key is gone by then, so their e-mail and address names and lines
read as null, while anything sealed under a newer key (an address given after the
forgetting) stays. A row is therefore exactly what a rebuild from the log writes.

That holds whichever partition commits first (readmodels/forgetting.py): a batch writing
rows with personal data locks their customers' stripes shared and, for a customer the read
side has seen forgotten, refolds the row from the log instead of writing what it decoded
(perhaps just before the key was deleted); the forgetting locks its customer's stripe
exclusive and only then reads the rows it refolds, after every such writer committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings

from eventlog.personal import has_personal_data
from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore, event_store
from orders.events import CustomerForgotten, OrderCreated
from projector.bulk import copy_rows, upsert_rows
from projector.projection import Projection, Sealer, loading
from readmodels.forgetting import forgotten_at, guard, orders_of, record
from readmodels.models import (
    CatalogName,
    ForgottenCustomer,
    OrderDetail,
    OrderStatusCount,
    OrderSummary,
    SearchPosting,
    SearchWord,
)
from readmodels.projections.base import advance_stream, upsert_increments
from readmodels.projections.catalog_names import apply_naming, catalog_names, lock_catalog, name_lines, names_product
from readmodels.projections.order_view import DETAIL_FIELDS, SUMMARY_FIELDS, View, fold_order_view, fold_stream
from readmodels.projections.search_words import fill_words, write_words
from readmodels.search import search_text


def count_statuses(using: str, moves: Sequence[tuple[str | None, str]]) -> None:
    """Add the batch's status changes (before, after; None before for a new order) to
    OrderStatusCount, as increments, so partitions projecting in parallel add up."""
    deltas: Counter[str] = Counter()
    for before, after in moves:
        if before != after:
            deltas[after] += 1
            if before is not None:
                deltas[before] -= 1
    upsert_increments(
        using,
        OrderStatusCount,
        ["status"],
        ["orders"],
        [(status, delta) for status, delta in deltas.items() if delta],
    )


def summary_row(view: View) -> View:
    """The order's list row: the summary fields, whose order it is, and its search text."""
    shipping = view["shipping_address"] or {}
    return {
        "order_id": view["order_id"],
        **{field: view[field] for field in SUMMARY_FIELDS},
        "customer_name": shipping.get("name") or "",
        "customer_email": view["customer_email"] or "",
        "search_text": search_text(view),
    }


def _forgets(recorded: RecordedEvent) -> bool:
    return isinstance(recorded.event, CustomerForgotten)


def _personal(view: View) -> bool:
    """True if the row holds any of its customer's personal data in the clear."""
    return has_personal_data(OrderCreated, view)


class OrdersProjection(Projection):
    """Keeps OrderSummary and OrderDetail, one row each per order, in one transaction.

    It also reads product streams, for the catalog names on order lines (CatalogName).
    """

    name = "orders"
    tables = (OrderSummary, OrderDetail, OrderStatusCount, CatalogName, SearchWord, SearchPosting)
    writes_beside = (ForgottenCustomer,)
    # Skipping a forgetting would leave the customer's personal data readable in the rows.
    never_skipped = frozenset({CustomerForgotten.__name__})
    # Carried: each archived order's two rows, sealed (readmodels/projections/carrying.py).
    carry_version = 1

    def __init__(self, store: EventStore | None = None) -> None:
        self.store = store or event_store()
        self.timeline_entries = int(settings.ORDER_TIMELINE_ENTRIES)
        self.fold = partial(fold_order_view, timeline_entries=self.timeline_entries)

    def carried_format(self) -> str | None:
        """The base's, and the timeline length the carried rows were folded with."""
        return f"{super().carried_format()}/timeline-{self.timeline_entries}"

    def carry(self, events: Sequence[RecordedEvent], seal: Sealer) -> Any:
        """The order's detail and summary rows as a replay of `events` writes them, sealed."""
        from readmodels.projections.carrying import carry_order  # builds on this module

        return carry_order(events, seal, self.timeline_entries)

    def restore_carried(self, carried: Sequence[tuple[str, Any]], using: str) -> None:
        """The carried orders' rows, and their statuses counted."""
        from readmodels.projections.carrying import restore_orders  # builds on this module

        restore_orders(carried, using, self.timeline_entries)

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Fold the batch into the touched orders' views and upsert both tables."""
        naming = [event for event in events if names_product(event)]
        events = [event for event in events if event.stream_type == "order" or _forgets(event)]
        if not events and not naming:
            return
        # Before any read of names or write of lines; see catalog_names.py for why.
        lock_catalog(using, exclusive=bool(naming))
        if naming:
            apply_naming(naming, using)
        if not events:
            return
        forgettings = [event for event in events if _forgets(event)]
        events = [event for event in events if not _forgets(event)]
        views = self._rows(using, {UUID(stream_id) for stream_id in {event.stream_id for event in events}})
        # Rows absent here cannot appear before this batch commits: an order's rows are
        # inserted only under its partition's checkpoint lock (projector/loop.py); the
        # forgetting, in another partition, only refolds rows that exist.
        stored = set(views)
        # The words each stored order is found by now: only a row whose words change
        # rewrites its postings (search_words.py); none while a rebuild loads (fill_words).
        texts_before = {} if loading.get() else {id_: search_text(view) for id_, view in views.items() if view}
        status_before = {stream_id: view["status"] for stream_id, view in views.items() if view}
        # Rows that held personal data lock their customer too: overwriting one races the
        # forgetting's refold as writing one does.
        had_personal = {str(view["customer_id"]) for view in views.values() if view and _personal(view)}
        changed: set[str] = set()
        for event in events:
            view = views.get(event.stream_id)
            before = view["version"] if view else 0
            views[event.stream_id] = advance_stream(view, before, event, self.fold, self.store)
            if event.version > before:
                changed.add(event.stream_id)
        rows = {stream_id: row for stream_id in changed if (row := views[stream_id])}
        personal = {stream_id for stream_id, row in rows.items() if _personal(row)}
        erasing = {event.event.customer_id for event in forgettings}
        guard(
            using,
            writing=had_personal | {str(rows[stream_id]["customer_id"]) for stream_id in personal},
            erasing=erasing,
        )
        for event in forgettings:
            record(using, event.event.customer_id, event.position)
        # The forgotten customers' other rows as committed now, after every writer of them:
        # those the event lists, and those it cannot (orders archived before the forgetting
        # are not in the log the write side scans for them).
        listed = orders_of(using, erasing, (order_id for event in forgettings for order_id in event.event.order_ids))
        listed -= changed
        for stream_id, row in self._rows(using, {UUID(stream_id) for stream_id in listed}).items():
            if row and _personal(row):
                rows[stream_id], status_before[stream_id] = row, row["status"]
                texts_before[stream_id] = search_text(row)
                personal.add(stream_id)
                stored.add(stream_id)
        forgotten = forgotten_at(using, {str(rows[stream_id]["customer_id"]) for stream_id in personal})
        for stream_id in personal:
            if rows[stream_id]["customer_id"] in forgotten:
                history = self.store.read_stream(stream_id, to_version=rows[stream_id]["version"])
                rows[stream_id] = fold_stream(history, self.timeline_entries) or rows[stream_id]
        self._write([rows[stream_id] for stream_id in sorted(rows)], status_before, texts_before, stored, using)

    def after_load(self, using: str) -> None:
        """The words of every order loaded (search_words.py leaves them to this)."""
        fill_words(using)

    def _rows(self, using: str, ids: set[UUID]) -> dict[str, View | None]:
        if not ids:
            return {}
        rows = OrderDetail.objects.using(using).filter(order_id__any=ids).values("order_id", *DETAIL_FIELDS)
        return {str(row["order_id"]): row for row in rows}

    def _write(
        self,
        rows: list[View],
        status_before: dict[str, str],
        texts_before: dict[str, str],
        stored: set[str],
        using: str,
    ) -> None:
        """Count the status moves and write both tables (COPY for rows not `stored` yet, an
        upsert for the others) and the words of those whose search text changed."""
        count_statuses(using, [(status_before.get(str(row["order_id"])), row["status"]) for row in rows])
        names = catalog_names({line["sku"] for row in rows for line in row["lines"]}, using)
        for row in rows:
            row["lines"] = name_lines(row["lines"], names)
        summaries = [summary_row(row) for row in rows]
        for model, table_rows in ((OrderDetail, rows), (OrderSummary, summaries)):
            new = [row for row in table_rows if str(row["order_id"]) not in stored]
            copy_rows(using, model, new)
            upsert_rows(using, model, [row for row in table_rows if str(row["order_id"]) in stored], key="order_id")
        write_words(using, summaries, texts_before)
