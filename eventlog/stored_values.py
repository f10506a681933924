"""Values of stored events read as they are stored: nothing unsealed, no event decoded.

For a question about a field that is never personal, such as an event's data subject (the
customer id an OrderCreated names), decoding the whole event costs a look-up of its subject's
key and the unsealing of values the caller does not want. A personal field reads here as what
is stored in its place, null (its value is in the sealed envelope: eventlog/personal.py), so
nothing personal can leak through this read.

Stored data is read at its own schema version, without the upcasters: a field asked for must
have been stored under the same name by every schema version of the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventlog import cold
from eventlog.models import StoredEvent
from eventlog.store import EventStore


def first_event_values(store: EventStore, stream_ids: Iterable[str], event_type: str, field: str) -> dict[str, Any]:
    """The stored value of `field` in the first event (version 1) of each of the given streams
    whose first event is an `event_type`, by stream: those in the log in one query, archived
    ones from their segments (a stream with neither is left out)."""
    wanted = list(dict.fromkeys(stream_ids))
    if not wanted:
        return {}
    # Every stream starts at version 1, so the unique (stream_id, version) index answers it.
    rows = StoredEvent.objects.using(store.using).filter(stream_id__in=wanted, version=1, event_type=event_type)
    found: dict[str, Any] = dict(rows.values_list("stream_id", f"data__{field}"))
    for stream_id in wanted:
        if stream_id in found or (manifest := store.archived(stream_id)) is None:
            continue
        first = cold.read(manifest.segment, manifest.checksum).events[0]
        if first["version"] == 1 and first["event_type"] == event_type:
            found[stream_id] = first["data"].get(field)
    return found
