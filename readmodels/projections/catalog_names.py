"""Product names on order lines: the part of the `orders` projection that reads two streams.

Order streams and product streams hash to different partitions, which are projected in
parallel transactions. Without care a rename and a new order can cross: the order's batch
reads the old name, the rename's batch updates the lines it can see (not the uncommitted
order), both commit, and the order keeps the old name for ever. A transaction-level
advisory lock closes that window: batches that write order rows hold it shared (they do
not block each other), batches that name products hold it exclusively. Under READ
COMMITTED each side then sees the other's committed work: an order batch reads names
after any rename that got the lock first, and a rename's scan of OrderDetail runs after
every order batch that got the lock first has committed.

The rules that make live projection equal a rebuild: a line's name is always the
catalog's name for its SKU at the time the row is written (None for an SKU that is not a
registered product), and a naming event rewrites the lines of every order that has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connections
from django.db.models import Q

from eventlog.recorded import RecordedEvent
from inventory.events import ProductRegistered, ProductRenamed
from projector.bulk import upsert_rows
from readmodels.models import CatalogName, OrderDetail

# pg_advisory_xact_lock key for "catalog names on order lines"; distinct from the append
# lock (eventlog.store.APPEND_LOCK_KEY), which may live in the same database.
CATALOG_LOCK_KEY = 0x4341_544C_4F47  # "CATLOG"

Line = dict[str, Any]
Catalog = dict[str, tuple[str, int]]


def names_product(recorded: RecordedEvent) -> bool:
    """Whether the event sets a product's catalog name."""
    return isinstance(recorded.event, ProductRegistered | ProductRenamed)


def fold_catalog(catalog: Catalog, events: Iterable[RecordedEvent]) -> dict[str, str]:
    """Apply naming events to `catalog` (sku -> (name, version)) in place; the SKUs whose
    name was set, with it. An event at or below the SKU's version is a repeat and ignored."""
    renamed: dict[str, str] = {}
    for recorded in events:
        event = recorded.event
        if not isinstance(event, ProductRegistered | ProductRenamed):
            continue
        known = catalog.get(event.sku)
        if known is None or recorded.version > known[1]:
            catalog[event.sku] = (event.name, recorded.version)
            renamed[event.sku] = event.name
    return renamed


def name_lines(lines: Sequence[Line], names: Mapping[str, str | None]) -> list[Line]:
    """The lines with `name` set for every SKU in `names`; other lines keep theirs."""
    return [
        {**line, "name": names[line["sku"]]} if line["sku"] in names else {**line, "name": line.get("name")}
        for line in lines
    ]


def lock_catalog(using: str, *, exclusive: bool) -> None:
    """Take the catalog-names lock until the transaction ends (PostgreSQL only: SQLite
    already allows one writer at a time)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [CATALOG_LOCK_KEY])


def catalog_names(skus: Iterable[str], using: str) -> dict[str, str | None]:
    """The current catalog name of each SKU (None for an SKU that is not a product)."""
    wanted = set(skus)
    found = dict(CatalogName.objects.using(using).filter(sku__any=wanted).values_list("sku", "name"))
    return {sku: found.get(sku) for sku in wanted}


def apply_naming(events: Sequence[RecordedEvent], using: str) -> None:
    """Record products' names and rewrite the lines of every order that has a renamed SKU."""
    skus = {event.event.sku for event in events}
    catalog: Catalog = {
        sku: (name, version)
        for sku, name, version in CatalogName.objects.using(using)
        .filter(sku__any=skus)
        .values_list("sku", "name", "version")
    }
    renamed = fold_catalog(catalog, events)
    if not renamed:
        return
    upsert_rows(
        using,
        CatalogName,
        [{"sku": sku, "name": catalog[sku][0], "version": catalog[sku][1]} for sku in sorted(renamed)],
        key="sku",
    )
    changed = []
    for order_id, lines in _orders_with(renamed, using):
        named = name_lines(lines, renamed)
        if named != lines:
            changed.append(OrderDetail(order_id=order_id, lines=named))
    OrderDetail.objects.using(using).bulk_update(changed, ["lines"], batch_size=500)


def _orders_with(skus: Iterable[str], using: str) -> Iterable[tuple[Any, list[Line]]]:
    """(order_id, lines) of the orders with a line for one of `skus`."""
    wanted = set(skus)
    rows = OrderDetail.objects.using(using).order_by("order_id")
    if connections[using].vendor == "postgresql":
        # jsonb containment: one scan however many SKUs the batch renamed.
        match = Q()
        for sku in sorted(wanted):
            match |= Q(lines__contains=[{"sku": sku}])
        yield from rows.filter(match).values_list("order_id", "lines")
        return
    # SQLite has no JSON containment lookup; the embedded default is small.
    for order_id, lines in rows.values_list("order_id", "lines").iterator():
        if any(line["sku"] in wanted for line in lines):
            yield order_id, lines
