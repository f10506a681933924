"""Loading and saving event-sourced aggregates through the event store.

One generic repository serves every aggregate type: it replays a stream from its latest
snapshot (if the snapshot's state shape is current) plus the events after it, and saves
new events with the version it loaded as the expected version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from eventlog.personal import seal_loaded
from eventlog.recorded import RecordedEvent
from eventlog.records import CommandEntry
from eventlog.serialization import from_data, to_data
from eventlog.store import EventStore
from kernel.errors import DomainError, StreamArchived, VersionMismatch
from writeside.aggregate import Aggregate

AggregateT = TypeVar("AggregateT", bound=Aggregate[Any, Any])


def check_expected_version(aggregate: Aggregate[Any, Any], expected_version: int | None) -> None:
    """Raise VersionMismatch if the caller pinned a version the stream is not at."""
    if expected_version is not None and aggregate.version != expected_version:
        raise VersionMismatch(expected_version, aggregate.version)


class Repository(Protocol[AggregateT]):
    """What handlers need to get and add aggregates of one type."""

    def get(self, aggregate_id: Any, expected_version: int | None = None) -> AggregateT:
        """The aggregate, loaded from its events; raises its not-found error or VersionMismatch."""
        ...

    def add(self, aggregate: AggregateT) -> None:
        """Track a new aggregate so the unit of work saves it."""
        ...

    def existing(self, aggregate_ids: Iterable[str]) -> set[str]:
        """Those of the ids whose streams have events (asked of the event store, not a read model)."""
        ...

    @property
    def seen(self) -> list[AggregateT]:
        """Aggregates loaded or added in this unit of work."""
        ...


class EventSourcedRepository(Generic[AggregateT]):
    """Aggregates of one type loaded from their latest snapshot plus the events after it."""

    aggregate_type: ClassVar[type[Aggregate[Any, Any]]]
    state_type: ClassVar[type[Any]]
    state_version: ClassVar[int]

    def __init__(self, store: EventStore, snapshot_every: int) -> None:
        self.store = store
        self.snapshot_every = snapshot_every
        self._seen: dict[str, AggregateT] = {}

    def stream_id(self, aggregate_id: Any) -> str:
        """The stream that holds an aggregate's events."""
        return str(aggregate_id)

    def aggregate_options(self) -> dict[str, Any]:
        """What a loaded aggregate is constructed with beyond its state (configured limits)."""
        return {}

    def not_found(self, aggregate_id: Any) -> DomainError:
        """The error `get` raises for a stream without events."""
        raise NotImplementedError

    def could_exist(self, aggregate_id: str) -> bool:
        """False for an id that can never name a stream of this type (`existing` skips it)."""
        return True

    def existing(self, aggregate_ids: Iterable[str]) -> set[str]:
        """Those of the ids whose streams have events (asked of the event store, not a read model)."""
        by_stream = {self.stream_id(key): key for key in aggregate_ids if self.could_exist(key)}
        return {by_stream[stream] for stream in self.store.existing_streams(by_stream)}

    @property
    def seen(self) -> list[AggregateT]:
        """Aggregates loaded or added in this unit of work."""
        return list(self._seen.values())

    def get(self, aggregate_id: Any, expected_version: int | None = None) -> AggregateT:
        """The aggregate, loaded from its events; raises its not-found error or VersionMismatch."""
        stream_id = self.stream_id(aggregate_id)
        state: Any = None
        version = 0
        snapshot, recorded = self.store.load_stream(stream_id, self.state_version)
        if snapshot is not None:
            state, version = from_data(snapshot.state, self.state_type), snapshot.version
        events = [event.event for event in recorded]
        aggregate: AggregateT = self.aggregate_type.replay(  # type: ignore[assignment]
            stream_id, events, state=state, version=version, **self.aggregate_options()
        )
        if not aggregate.exists:
            if not recorded and snapshot is None and self.store.is_archived(stream_id):
                raise StreamArchived(
                    f"{self.aggregate_type.stream_type.capitalize()} {aggregate_id} is archived: its history is"
                    " in cold storage and it takes no command until `manage.py restore_stream` brings it back"
                )
            raise self.not_found(aggregate_id)
        check_expected_version(aggregate, expected_version)
        self._seen[stream_id] = aggregate
        return aggregate

    def add(self, aggregate: AggregateT) -> None:
        """Track a new aggregate so the unit of work saves it."""
        self._seen[aggregate.id] = aggregate

    def save(
        self, aggregate: AggregateT, metadata: dict[str, Any], command: CommandEntry | None = None
    ) -> list[RecordedEvent]:
        """Append the aggregate's new events (and the command's record with them); snapshot
        when a multiple of N is crossed."""
        expected = aggregate.stored_version
        events = aggregate.collect_events()
        stream_type = self.aggregate_type.stream_type
        recorded = self.store.append(aggregate.id, stream_type, expected, events, metadata, command=command)
        if recorded and aggregate.version // self.snapshot_every > expected // self.snapshot_every:
            # Sealed here, where the state's class (and so its personal fields) is known; never
            # under a key its subject got after it was loaded (eventlog/keys.py). None: the state
            # mixes data of a key erased since with data under the new one, so no snapshot this
            # time (loading replays from the previous one; the next crossing writes one).
            state = seal_loaded(self.state_type, to_data(aggregate.state), self.store.keys)
            if state is not None:
                self.store.save_snapshot(aggregate.id, stream_type, aggregate.version, self.state_version, state)
        return recorded
