"""The whole log, hot and cold: what a rebuild or a verification replays.

`whole_log(store)` is the event store as a replay must see it: `read_all` returns the events
of archived segments (eventlog/cold.py) merged with the log's rows in global position order,
and `head_position` counts them. So a rebuild of a read model from the whole log gives the
tables live projection gave, although the archived streams' rows left the log.

Live projections never need it: a stream is archived only once every projection applied all
of it, so their checkpoints are past every archived position. While a replay reads through
this, the archiver removes nothing (both hold the read database's rebuild lock,
projector/shadow.py), so a stream cannot move from the log to a segment under the replay's feet.

Reading is by windows: `read_all(after, limit=n)` reads up to n rows of the log after
`after`, and the archived events up to the last of them (up to `to_position` on the last
window). Segments are opened as the windows reach their first position, kept while the
window is inside them, and let go once passed, so memory holds the streams open at that
point of history, not the archive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Max

from eventlog import cold
from eventlog.models import ArchivedStream
from eventlog.store import _COLUMNS, BUCKETS, EventStore, RecordedEvent

_END = 2**63 - 1


class WholeLog:
    """An event store whose `read_all` and `head_position` include the archived streams;
    every other attribute is the wrapped store's."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._open: dict[str, cold.Segment] = {}
        self._through: int | None = None  # segments starting at or below it are opened
        self._next = -1  # where a read that follows on from the last one starts
        self._buckets: frozenset[int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _archived(self) -> Any:
        return ArchivedStream.objects.using(self._store.using).filter(status=ArchivedStream.Status.ARCHIVED)

    def head_position(self) -> int:
        """The highest position of the log or of an archived stream."""
        cold_head = self._archived().aggregate(head=Max("last_position"))["head"] or 0
        return max(self._store.head_position(), int(cold_head))

    def read_all(
        self,
        after_position: int = 0,
        *,
        limit: int = 1000,
        buckets: Sequence[int] | None = None,
        to_position: int | None = None,
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after_position`, the log's and the archived ones, in
        position order (as EventStore.read_all, over the whole log)."""
        hot = self._store.read_all(after_position, limit=limit, buckets=buckets, to_position=to_position)
        upper = hot[-1].position if len(hot) == limit else (_END if to_position is None else to_position)
        wanted = None if buckets is None or len(buckets) >= BUCKETS else frozenset(buckets)
        self._open_segments(after_position, upper, wanted)
        rows = [
            tuple(event[column] for column in _COLUMNS)
            for segment in self._open.values()
            for event in segment.events
            if after_position < event["position"] <= upper and (wanted is None or event["bucket"] in wanted)
        ]
        events = hot
        if rows:
            events = sorted([*hot, *self._store._recorded_all(rows)], key=lambda event: event.position)[:limit]
        # The next read that follows on goes on from the last event returned; a segment is let
        # go once that is past its last event.
        self._next = events[-1].position if events else after_position
        self._open = {stream: segment for stream, segment in self._open.items() if segment.last_position > self._next}
        return events

    def _open_segments(self, after: int, upper: int, buckets: frozenset[int] | None) -> None:
        """Open the segments the window (after, upper] reaches that are not open yet: on a read
        that does not follow on from the last one, every segment it overlaps."""
        manifest = self._archived()
        if self._through is None or (after, buckets) != (self._next, self._buckets):
            self._open, self._buckets = {}, buckets
            manifest = manifest.filter(last_position__gt=after, first_position__lte=upper)
            self._through = upper
        else:
            manifest = manifest.filter(first_position__gt=self._through, first_position__lte=upper)
            self._through = max(self._through, upper)
        for stream_id, segment, checksum in manifest.values_list("stream_id", "segment", "checksum"):
            self._open[stream_id] = cold.read(segment, checksum)


def whole_log(store: EventStore) -> EventStore:
    """The store as a replay reads it (WholeLog), typed as the store it wraps."""
    whole: Any = WholeLog(store)
    return whole  # type: ignore[no-any-return]
