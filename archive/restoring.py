"""Bringing one archived stream back into the log exactly as it was: the same events with the
same ids, versions, positions and times, and its snapshot.

One transaction, holding the append lock: the manifest row goes (so the database accepts the
stream's events again, eventlog/migrations/0007) and the segment's rows are inserted with
their own positions. Those positions are below every projection's checkpoint (a stream is
archived only once every projection applied it), so no projection applies them a second time.
The segment (and the rows carried with it) is deleted from the storage only after the
commit; a kill in between leaves unreferenced files, which a later archiving of the stream
reuses or replaces.
"""

from __future__ import annotations

from django.db import connections, transaction

from archive.procedure import database
from eventlog import cold
from eventlog.models import ArchivedStream, Snapshot, StoredEvent
from eventlog.store import APPEND_LOCK_KEY
from projector import carried


class NotArchived(Exception):
    """The stream is not in cold storage."""


def restore_stream(stream_id: str) -> int:
    """Put an archived stream back in the log; returns how many events came back."""
    using = database()
    with transaction.atomic(using=using):
        if connections[using].vendor == "postgresql":
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])
        manifest = (
            ArchivedStream.objects.using(using)
            .select_for_update()
            .filter(stream_id=stream_id, status=ArchivedStream.Status.ARCHIVED)
            .first()
        )
        if manifest is None:
            raise NotArchived(f"Stream {stream_id} is not archived")
        segment = cold.read(manifest.segment, manifest.checksum)
        name = manifest.segment
        manifest.delete()
        StoredEvent.objects.using(using).bulk_create(StoredEvent(**event) for event in segment.events)
        if segment.snapshot is not None:
            Snapshot.objects.using(using).create(stream_id=stream_id, **segment.snapshot)
    transaction.on_commit(lambda: _drop(name), using=using)
    return len(segment.events)


def _drop(segment_name: str) -> None:
    """The segment and the rows carried with it, once the stream is back in the log (hot
    again, a rebuild replays it; archived again, it carries new rows)."""
    cold.archive_storage().delete(segment_name)
    carried.delete(segment_name)
