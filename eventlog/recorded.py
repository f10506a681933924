"""A stored event and a stored snapshot as their readers see them, and the one place a
RecordedEvent is built from a stored row.

Every store reads an event's row in COLUMNS' order (the ORM's in eventlog/store.py, the SQL of
eventlog/postgres.py, a segment's dicts in eventlog/history.py), so `recorded` builds the same
RecordedEvent whichever read it came from: its personal values unsealed with the keys the
caller looked up (in the clear while their subject's key exists, None once it is gone:
eventlog/personal.py), the domain event decoded by the registry from that data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventlog.personal import unseal
from eventlog.serialization import EventRegistry


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordedEvent:
    """A stored event as subscribers see it: the decoded domain event and its envelope."""

    position: int
    event_id: UUID
    stream_id: str
    stream_type: str
    version: int
    event_type: str
    schema_version: int
    recorded_at: datetime
    metadata: dict[str, Any]
    data: dict[str, Any]
    event: Any = field(compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredSnapshot:
    """A stream's saved state at a version."""

    stream_id: str
    version: int
    state_version: int
    state: Any


COLUMNS = (
    "position",
    "event_id",
    "stream_id",
    "stream_type",
    "version",
    "event_type",
    "schema_version",
    "recorded_at",
    "metadata",
    "data",
)


def recorded(
    row: Sequence[Any], events: EventRegistry, event: Any = None, secrets: Mapping[str, bytes] | None = None
) -> RecordedEvent:
    """The RecordedEvent of a row in COLUMNS' order (metadata and data as Python values), the
    event decoded by `events` from its data unless the caller has it (and then its data
    unsealed already). Stored data is unsealed with `secrets`."""
    position, event_id, stream_id, stream_type, version, event_type, schema_version, recorded_at, metadata, data = row
    if event is None:
        data = unseal(data, secrets or {})
    return RecordedEvent(
        position=position,
        event_id=event_id,
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        event_type=event_type,
        schema_version=schema_version,
        recorded_at=recorded_at,
        metadata=metadata,
        data=data,
        event=events.decode(event_type, schema_version, data) if event is None else event,
    )
