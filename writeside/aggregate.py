"""A generic event-sourced aggregate: state changes only by applying its own events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Generic, Self, TypeVar

from kernel.events import DomainEvent

StateT = TypeVar("StateT")
EventT = TypeVar("EventT", bound=DomainEvent)


class Aggregate(Generic[StateT, EventT]):
    """Holds an immutable state, its stream version and the events recorded but not saved.

    Subclasses give `stream_type` and a pure `evolve(state, event) -> state`; their command
    methods check rules and call `_record`, so live state and replayed state are the same
    function of the same events.
    """

    stream_type: ClassVar[str]

    def __init__(self, aggregate_id: str, state: StateT | None = None, version: int = 0) -> None:
        self.id = aggregate_id
        self._state = state
        self.version = version
        self._pending: list[EventT] = []

    @staticmethod
    def evolve(state: StateT | None, event: EventT) -> StateT:
        """Return the state after `event`; subclasses implement it."""
        raise NotImplementedError

    @classmethod
    def replay(
        cls,
        aggregate_id: str,
        events: Iterable[EventT],
        *,
        state: StateT | None = None,
        version: int = 0,
        **options: Any,
    ) -> Self:
        """Rebuild from stored events, optionally starting from a snapshot's state;
        `options` go to the constructor (limits a subclass takes from configuration)."""
        aggregate = cls(aggregate_id, state, version, **options)
        for event in events:
            aggregate._state = cls.evolve(aggregate._state, event)
            aggregate.version += 1
        return aggregate

    @property
    def exists(self) -> bool:
        """True once the stream has at least one event."""
        return self._state is not None

    @property
    def state(self) -> StateT:
        """The current state; only valid once the aggregate exists."""
        if self._state is None:
            raise LookupError(f"{self.stream_type} {self.id} has no events")
        return self._state

    @property
    def stored_version(self) -> int:
        """The version the stream had when loaded: the expected version for the append."""
        return self.version - len(self._pending)

    def _record(self, event: EventT) -> None:
        self._state = self.evolve(self._state, event)
        self.version += 1
        self._pending.append(event)

    def collect_events(self) -> list[EventT]:
        """Hand over the events recorded since loading and forget them."""
        events, self._pending = self._pending, []
        return events
