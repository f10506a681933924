"""The relay check: every public event of the log was published.

The guarantee it checks (integration/relay.py): the relay moves its checkpoint of a partition
only in the transaction that published the partition's events up to it, with publisher
confirms, and an event it could not publish becomes one of its dead letters. So an event of
a public type is unpublished exactly when it lies past the relay's checkpoint of its
partition, or is a dead letter of the relay that no retry resolved (parked, retrying, held
behind one, or skipped by an operator). The relay records no published ids: the checkpoint
is the record.

Events committed a moment ago are past the checkpoint while the relay is at work; the check
reads the head first and waits (Options.wait_seconds, polling) for the relay to pass it,
then reports what is still owed up to that head.
"""

from __future__ import annotations

import time

from django.db.models import Count, Min

from eventlog.models import StoredEvent
from eventlog.store import event_store
from integration.mapping import ORDER_PUBLISHED, STOCK_PUBLISHED
from integration.relay import RelayProjection
from projector.loop import all_partitions, read_database
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import buckets_of
from projector.registry import all_projections
from projector.verification import Divergence, Options

CHECK = "relay"
POLL_SECONDS = 0.2
# The stored type names of the events the relay publishes (the registry names them by class).
PUBLIC_TYPES = frozenset(kind.__name__ for kind in (*ORDER_PUBLISHED, *STOCK_PUBLISHED))


def unpublished_events(options: Options) -> list[Divergence]:
    """Public events up to the head the relay has not published; none if no relay runs."""
    relays = [projection.name for projection in all_projections().values() if isinstance(projection, RelayProjection)]
    if not relays:
        return []
    name, store, using = relays[0], event_store(), read_database()
    head = store.head_position()
    deadline = time.monotonic() + options.wait_seconds
    owed = _owed(name, head, store.using, using)
    while owed and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        owed = _owed(name, head, store.using, using)
    found = [
        Divergence(
            CHECK,
            f"partition {partition}",
            f"{count} public event(s) up to position {head} not published: the relay's checkpoint is at"
            f" {checkpoint}, the first unpublished event at {first}",
        )
        for partition, (checkpoint, count, first) in sorted(owed.items())
    ]
    letters = (
        DeadLetter.objects.using(using)
        .filter(projection=name, event_type__in=PUBLIC_TYPES)
        .exclude(status=DeadLetter.Status.RESOLVED)
        .order_by("position")
    )
    found += [
        Divergence(
            CHECK,
            f"event #{letter.position}",
            f"{letter.event_type} of {letter.stream_id} is not published: a dead letter of the relay ({letter.status})",
        )
        for letter in letters
    ]
    return found


def _owed(name: str, head: int, log: str, using: str) -> dict[int, tuple[int, int, int]]:
    """Per partition with public events between the relay's checkpoint and `head`: the
    checkpoint, how many such events there are and the first one's position."""
    checkpoints = dict(
        ProjectionCheckpoint.objects.using(using).filter(projection=name).values_list("partition", "position")
    )
    owed = {}
    for partition in all_partitions():
        checkpoint = checkpoints.get(partition, 0)
        if checkpoint >= head:
            continue
        behind = StoredEvent.objects.using(log).filter(
            bucket__in=buckets_of(partition), position__gt=checkpoint, position__lte=head, event_type__in=PUBLIC_TYPES
        )
        summary = behind.aggregate(count=Count("position"), first=Min("position"))
        if summary["count"]:
            owed[partition] = (checkpoint, summary["count"], summary["first"])
    return owed
