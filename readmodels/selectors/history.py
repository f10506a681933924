"""Order history from the event log, not the read models: an order's events as recorded (each
in its type's current schema), and its detail as it was at an instant or a version, folded
from its stream exactly as the live projection folds it, so the past has the live shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import router

from eventlog.recorded import RecordedEvent
from eventlog.serialization import registry
from eventlog.store import event_store
from readmodels.models import CatalogName
from readmodels.projections.catalog_names import catalog_names, name_lines
from readmodels.projections.order_view import fold_stream
from readmodels.selectors.orders import OrderDetailDTO, detail_dto


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryEntryDTO:
    """One stored event of an order, as recorded."""

    event_id: UUID
    event_type: str
    version: int
    position: int
    occurred_at: datetime
    data: dict[str, Any]
    metadata: dict[str, Any]


EntryT = TypeVar("EntryT")


@dataclass(frozen=True, kw_only=True, slots=True)
class Page(Generic[EntryT]):
    """A bounded run of entries, oldest first, and the cursor (a version or a position)
    the next page starts after; None on the last page."""

    results: list[EntryT]
    next_after: int | None


def page_of(entries: list[EntryT], limit: int, cursor: Callable[[EntryT], int]) -> Page[EntryT]:
    """The first `limit` of `entries`, read with one more than that to know if a page follows."""
    if len(entries) <= limit:
        return Page(results=entries, next_after=None)
    return Page(results=entries[:limit], next_after=cursor(entries[limit - 1]))


def order_as_of(order_id: UUID, at: datetime) -> OrderDetailDTO | None:
    """The order's detail as it was at an instant, rebuilt from the event log (None if it
    did not exist yet)."""
    return _replayed(event_store().read_stream(str(order_id), until=at))


def order_at_version(order_id: UUID, version: int) -> OrderDetailDTO | None:
    """The order's detail as it was at stream version `version` (1 = as placed), rebuilt
    from the event log; None if the order has not reached that version (or does not exist)."""
    events = event_store().read_stream(str(order_id), to_version=version)
    return _replayed(events) if len(events) == version else None


def _replayed(events: Iterable[RecordedEvent]) -> OrderDetailDTO | None:
    """The detail after `events`, the start of one order's stream (None for no events)."""
    # Folded as the projection folds, so the past has the live detail's bounded shape.
    view = fold_stream(events, int(settings.ORDER_TIMELINE_ENTRIES))
    if not view:
        return None
    # Names are the catalog's current ones, as on the live detail (not the names back then).
    names = catalog_names({line["sku"] for line in view["lines"]}, router.db_for_read(CatalogName))
    return detail_dto({**view, "lines": name_lines(view["lines"], names)})


def order_history(order_id: UUID, *, after_version: int = 0, limit: int) -> Page[HistoryEntryDTO] | None:
    """Up to `limit` of the order's events after `after_version`, oldest first, each in its
    event type's current schema (stored older versions are upcast on read, never
    rewritten); None if the order has no events."""
    store, stream_id = event_store(), str(order_id)
    events = store.read_stream(stream_id, after_version=after_version, limit=limit + 1)
    if not events and (after_version == 0 or not store.stream_version(stream_id)):
        return None
    return page_of([HistoryEntryDTO(**history_fields(event)) for event in events], limit, lambda entry: entry.version)


def history_fields(event: Any) -> dict[str, Any]:
    """A stored event's HistoryEntryDTO fields (a RecordedEvent or a StoredEvent row), its
    data in the event type's current schema."""
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "version": event.version,
        "position": event.position,
        "occurred_at": event.recorded_at,
        "data": registry.upcast(event.event_type, event.schema_version, event.data),
        "metadata": event.metadata,
    }
