"""Loading a stream for the write side: its snapshot, if the state it holds has the shape asked
for, and the events after it; and saving the snapshot.

Snapshots are sealed by their writer, which knows the state's class (writeside/repository.py),
and unsealed here, where the keys of a load are fetched in one query with those of the events,
and noted (SubjectKeys.loaded_with) so that the snapshot of what was loaded is sealed under no
other key. This is the ORM's way, for SQLite; PostgresEventStore (eventlog/postgres.py) loads
with one statement instead.
"""

from __future__ import annotations

from typing import Any

from eventlog.keys import SubjectKeys
from eventlog.models import Snapshot, StoredEvent
from eventlog.personal import key_ids, unseal, unseal_all
from eventlog.recorded import COLUMNS, RecordedEvent, StoredSnapshot, recorded
from eventlog.serialization import EventRegistry


class StreamLoading:
    """The event store's loads of a stream with its snapshot (the base of EventStore, which
    sets the database alias, its subjects' keys and the event registry)."""

    using: str
    keys: SubjectKeys
    registry: EventRegistry

    def latest_snapshot(self, stream_id: str) -> StoredSnapshot | None:
        """The stream's snapshot, if one was saved."""
        row = (
            Snapshot.objects.using(self.using)
            .filter(stream_id=stream_id)
            .values_list("version", "state_version", "state")
            .first()
        )
        if row is None:
            return None
        state = unseal_all([row[2]], self.keys)[0]
        return StoredSnapshot(stream_id=stream_id, version=row[0], state_version=row[1], state=state)

    def load_stream(self, stream_id: str, state_version: int) -> tuple[StoredSnapshot | None, list[RecordedEvent]]:
        """The stream's snapshot if its state has shape `state_version`, and the events after it."""
        row = (
            Snapshot.objects.using(self.using)
            .filter(stream_id=stream_id, state_version=state_version)
            .values_list("version", "state")
            .first()
        )
        version = row[0] if row else 0
        events = (
            StoredEvent.objects.using(self.using).filter(stream_id=stream_id, version__gt=version).order_by("version")
        )
        rows = list(events.values_list(*COLUMNS))
        wanted = key_ids([*([row[1]] if row else []), *(event[9] for event in rows)])
        secrets = self.keys.secrets(wanted) if wanted else {}
        self.keys.loaded_with(secrets)
        snapshot = None
        if row is not None:
            snapshot = StoredSnapshot(
                stream_id=stream_id, version=version, state_version=state_version, state=unseal(row[1], secrets)
            )
        return snapshot, [recorded(event, self.registry, secrets=secrets) for event in rows]

    def load_stream_statement(self, stream_id: str, state_version: int) -> tuple[str, list[Any]] | None:
        """The one statement that reads what `load_stream` needs, for a caller that can send it
        earlier (along with the idempotency look-up, CommandLog.get_along); None: there is none."""
        return None

    def preloaded(self, stream_id: str, state_version: int, rows: list[tuple[Any, ...]]) -> None:
        """The rows of `load_stream_statement`, read earlier in this transaction: the next
        `load_stream` of that stream uses them instead of reading."""
        raise NotImplementedError("This store has no load_stream_statement")

    def save_snapshot(self, stream_id: str, stream_type: str, version: int, state_version: int, state: Any) -> None:
        """Replace the stream's snapshot with the state at `version` (its personal data sealed
        by the caller, who knows the state's class)."""
        Snapshot.objects.using(self.using).update_or_create(
            stream_id=stream_id,
            defaults={"stream_type": stream_type, "version": version, "state_version": state_version, "state": state},
        )
