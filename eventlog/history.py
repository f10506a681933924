"""The whole log, hot and cold: what a rebuild or a verification replays.

`whole_log(store)` is the event store as a replay must see it: `read_all` returns the events
of archived segments (eventlog/cold.py) merged with the log's rows in global position order,
each once, and `head_position` counts them. So a rebuild of a read model from the whole log
gives the tables live projection gave, although the archived streams' rows left the log.

Live projections never need it: a stream is archived only once every projection applied all
of it, so their checkpoints are past every archived position. While a replay reads through
this, the archiver removes nothing (both hold the read database's rebuild lock,
projector/shadow.py), so a stream cannot move from the log to a segment under the replay's feet.
A stream restored meanwhile (archive/restoring.py) comes back with its own positions: an event
the replay finds both in its segment and in the log is returned once.

Reading is a merge that stays proportional to the events returned: `read_all(after, limit=n)`
reads up to n rows of the log after `after` and takes archived events from a cursor
(`ArchivedEvents`) only as far as it returns them, however far apart the log's rows are (the
log of a long history is mostly recent rows, so one window of it can span most of the
archive). The cursor lists the manifest in pages in first-position order, opens (reads,
checks, decodes) each segment once, when the merge reaches its first position, and lets it go
after its last, so memory holds the streams open at that point of history, not the archive.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from typing import Any

from django.db.models import Max

from eventlog import cold
from eventlog.buckets import BUCKETS, bucket_of
from eventlog.models import ArchivedStream
from eventlog.recorded import COLUMNS, RecordedEvent
from eventlog.store import EventStore

_END = 2**63 - 1
# Manifest rows listed per query: the queries of a replay are about segments / MANIFEST_PAGE.
MANIFEST_PAGE = 500


class ArchivedEvents:
    """The archived events after a position (of some buckets), in position order, taken one
    by one: a k-way merge of the segments open at the point reached."""

    def __init__(self, store: EventStore, after: int, buckets: frozenset[int] | None) -> None:
        self._using = store.using
        self._after = after
        self._buckets = buckets
        self._unopened: deque[tuple[int, str, str, str]] = deque()  # listed manifest rows
        self._listed_through = -1  # first position of the last manifest row listed
        self._listed_all = False
        self._events: dict[str, list[dict[str, Any]]] = {}  # open segments' events, by segment
        self._heap: list[tuple[int, str, int]] = []  # (position, segment, index) per open segment

    def _manifest(self) -> Any:
        return ArchivedStream.objects.using(self._using).filter(status=ArchivedStream.Status.ARCHIVED)

    def _next_unopened(self) -> int | None:
        """The first position of the next segment not opened yet (listing a page if needed)."""
        while not self._unopened and not self._listed_all:
            page = self._list_page()
            self._listed_all = len(page) < MANIFEST_PAGE
            if page:
                self._listed_through = page[-1][0]
            self._unopened.extend(row for row in page if self._buckets is None or bucket_of(row[1]) in self._buckets)
        return self._unopened[0][0] if self._unopened else None

    def _list_page(self) -> list[tuple[int, str, str, str]]:
        """The next manifest rows in first-position order (one query)."""
        return list(
            self._manifest()
            .filter(last_position__gt=self._after, first_position__gt=self._listed_through)
            .order_by("first_position")
            .values_list("first_position", "stream_id", "segment", "checksum")[:MANIFEST_PAGE]
        )

    def _open_next(self) -> None:
        _, stream_id, name, checksum = self._unopened.popleft()
        try:
            events = cold.read(name, checksum).events
        except FileNotFoundError:
            # Restored since it was listed: its events are back in the log, read from there.
            if self._manifest().filter(stream_id=stream_id, segment=name).exists():
                raise
            return
        start = next((i for i, event in enumerate(events) if event["position"] > self._after), len(events))
        if start < len(events):
            self._events[name] = events
            heapq.heappush(self._heap, (events[start]["position"], name, start))

    def peek(self, upper: int) -> int | None:
        """The position of the next archived event if it is at or below `upper`, else None;
        opens the segments that start before it."""
        while True:
            head = self._heap[0][0] if self._heap else None
            first = self._next_unopened()
            if first is None or first > upper or (head is not None and head < first):
                return head if head is not None and head <= upper else None
            self._open_next()

    def take(self) -> dict[str, Any]:
        """The next archived event (after a `peek` that found one)."""
        _, name, index = heapq.heappop(self._heap)
        events = self._events[name]
        if index + 1 < len(events):
            heapq.heappush(self._heap, (events[index + 1]["position"], name, index + 1))
        else:
            del self._events[name]  # passed: let it go
        return events[index]


class WholeLog:
    """An event store whose `read_all` and `head_position` include the archived streams;
    every other attribute is the wrapped store's."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._archived: ArchivedEvents | None = None
        self._next = -1  # where a read that follows on from the last one starts
        self._buckets: frozenset[int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def head_position(self) -> int:
        """The highest position of the log or of an archived stream."""
        archived = ArchivedStream.objects.using(self._store.using).filter(status=ArchivedStream.Status.ARCHIVED)
        cold_head = archived.aggregate(head=Max("last_position"))["head"] or 0
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
        if self._archived is None or (after_position, wanted) != (self._next, self._buckets):
            # Not a read following on from the last one: a cursor of its own from here.
            self._archived, self._buckets = ArchivedEvents(self._store, after_position, wanted), wanted
        archived, taken = self._archived, []
        hot_index, count = 0, 0
        while count < limit:
            position = archived.peek(upper)
            if position is None:
                break
            while hot_index < len(hot) and hot[hot_index].position < position and count < limit:
                hot_index, count = hot_index + 1, count + 1
            if count == limit:
                break
            if hot_index < len(hot) and hot[hot_index].position == position:
                hot_index += 1  # restored during the replay: in the log and in its segment
                archived.take()
            else:
                event = archived.take()
                taken.append(tuple(event[column] for column in COLUMNS))
            count += 1
        events = hot
        if taken:
            # Each event taken ranks within the first `limit`; log rows past them wait for the next read.
            merged = [*hot, *self._store._recorded_all(taken)]
            events = sorted(merged, key=lambda event: event.position)[:limit]
        self._next = events[-1].position if events else after_position
        return events


def whole_log(store: EventStore) -> EventStore:
    """The store as a replay reads it (WholeLog), typed as the store it wraps."""
    whole: Any = WholeLog(store)
    return whole  # type: ignore[no-any-return]
