"""Subscribers for tests: one records what it is told, one always fails."""

from __future__ import annotations

from collections.abc import Sequence

from eventlog.store import RecordedEvent

received: list[RecordedEvent] = []


def record(events: Sequence[RecordedEvent]) -> None:
    """Remember the events, as a projection would consume them."""
    received.extend(events)


def explode(events: Sequence[RecordedEvent]) -> None:
    """A subscriber with a bug."""
    raise RuntimeError("subscriber bug")
