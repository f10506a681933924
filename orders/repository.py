"""Loading and saving event-sourced aggregates through the event store.

One generic repository serves every aggregate type: it replays a stream from its latest
snapshot (if the snapshot's state shape is current) plus the events after it, and saves
new events with the version it loaded as the expected version.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Protocol, TypeVar

from eventlog.serialization import from_data, to_data
from eventlog.store import EventStore, RecordedEvent
from orders.aggregate import Aggregate
from orders.domain import MAX_EVENTS, Order, OrderState
from orders.errors import DomainError, OrderNotFound, VersionMismatch

AggregateT = TypeVar("AggregateT", bound=Aggregate[Any, Any])

# Bump when OrderState changes shape: older snapshots are then ignored and streams replayed.
# 2: tracked_skus and stock_reserved (inventory). 3: addresses, payment method, amounts paid and owed.
ORDER_STATE_VERSION = 3


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

    @property
    def seen(self) -> list[AggregateT]:
        """Aggregates loaded or added in this unit of work."""
        ...


OrderRepository = Repository[Order]


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
            raise self.not_found(aggregate_id)
        check_expected_version(aggregate, expected_version)
        self._seen[stream_id] = aggregate
        return aggregate

    def add(self, aggregate: AggregateT) -> None:
        """Track a new aggregate so the unit of work saves it."""
        self._seen[aggregate.id] = aggregate

    def save(self, aggregate: AggregateT, metadata: dict[str, Any]) -> list[RecordedEvent]:
        """Append the aggregate's new events; snapshot when a multiple of N is crossed."""
        expected = aggregate.stored_version
        events = aggregate.collect_events()
        stream_type = self.aggregate_type.stream_type
        recorded = self.store.append(aggregate.id, stream_type, expected, events, metadata)
        if recorded and aggregate.version // self.snapshot_every > expected // self.snapshot_every:
            self.store.save_snapshot(
                aggregate.id, stream_type, aggregate.version, self.state_version, to_data(aggregate.state)
            )
        return recorded


class EventSourcedOrders(EventSourcedRepository[Order]):
    """Orders loaded from their latest snapshot plus the events after it."""

    aggregate_type = Order
    state_type = OrderState
    state_version = ORDER_STATE_VERSION

    def __init__(self, store: EventStore, snapshot_every: int, max_events: int = MAX_EVENTS) -> None:
        super().__init__(store, snapshot_every)
        self.max_events = max_events

    def aggregate_options(self) -> dict[str, Any]:
        """The configured limit of events per order."""
        return {"max_events": self.max_events}

    def not_found(self, aggregate_id: Any) -> DomainError:
        """OrderNotFound."""
        return OrderNotFound(f"Order {aggregate_id} does not exist")
