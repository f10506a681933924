"""Subscribers for tests: one records what it is told, one always fails; and a projection that
records the positions it is given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from eventlog.recorded import RecordedEvent
from projector.projection import Projection

received: list[RecordedEvent] = []


def record(events: Sequence[RecordedEvent]) -> None:
    """Remember the events, as a projection would consume them."""
    received.extend(events)


def explode(events: Sequence[RecordedEvent]) -> None:
    """A subscriber with a bug."""
    raise RuntimeError("subscriber bug")


class RecordingProjection(Projection):
    """A projection with no tables that records the positions it applies, in its own class's
    `seen` (each subclass declares its `name` and a `seen` list of its own)."""

    tables = ()
    seen: ClassVar[list[int]]

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        type(self).seen.extend(event.position for event in events)
