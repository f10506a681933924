"""An order's whole story: its events and those of every stream its commands caused.

Every command carries a correlation id (the API's X-Correlation-ID, or a fresh one), and
the fulfilment process manager reuses the confirmation's id on the stock commands it
sends. So the events sharing the order's correlation ids are its story across streams.

Their data is unsealed with the keys that exist now, as the history's is: personal values
while the customer's key exists, null once they were forgotten, never the sealed envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventlog.models import CORRELATION, StoredEvent
from eventlog.personal import unseal_all
from eventlog.store import event_store
from readmodels.selectors.history import HistoryEntryDTO, Page, history_fields, page_of


@dataclass(frozen=True, kw_only=True, slots=True)
class StoryEntryDTO(HistoryEntryDTO):
    """One stored event of the story, with the stream it belongs to."""

    stream_type: str
    stream_id: str


def order_correlations(order_id: UUID) -> set[str]:
    """The correlation ids on the order's own events."""
    rows = StoredEvent.objects.filter(stream_id=str(order_id)).annotate(correlation=CORRELATION)
    return {value for value in rows.values_list("correlation", flat=True) if value}


def order_story(
    order_id: UUID, correlation: UUID | None = None, *, after_position: int = 0, limit: int
) -> Page[StoryEntryDTO] | None:
    """Up to `limit` events after `after_position`, of any stream, sharing a correlation id
    with the order (only `correlation` if given), by position; None if the order has no
    events (or none with that id)."""
    correlations = order_correlations(order_id)
    if correlation is not None:
        correlations &= {str(correlation)}
    if not correlations:
        return None
    rows = list(
        StoredEvent.objects.alias(correlation=CORRELATION)
        .filter(correlation__in=sorted(correlations), position__gt=after_position)
        .order_by("position")[: limit + 1]
    )
    # Opened in place (the rows are only read here), with one look-up of the keys they need.
    for row, data in zip(rows, unseal_all((row.data for row in rows), event_store().keys), strict=True):
        row.data = data
    entries = [
        StoryEntryDTO(**history_fields(row), stream_type=row.stream_type, stream_id=row.stream_id) for row in rows
    ]
    return page_of(entries, limit, lambda entry: entry.position)
