"""Projections share a partition's batch only while they are near each other: one far behind
(more than a batch) is left to catch up on its own, so the others' new events are applied at
once instead of after it has walked the stretch of log it owes."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import uuid4

import pytest

from eventlog.buckets import bucket_of
from eventlog.store import EventStore
from projector.loop import all_partitions, run_batch
from projector.models import ProjectionCheckpoint
from projector.partitions import partition_of_bucket
from projector.running import run_partition
from tests.factories import CreateOrderFactory
from tests.support.recording_subscribers import RecordingProjection
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HERE = __name__


class Current(RecordingProjection):
    """A consumer kept up to date."""

    name = "current"
    seen: ClassVar[list[int]] = []


class Laggard(RecordingProjection):
    """A consumer that never saw the log so far (its checkpoints start at 0)."""

    name = "laggard"
    seen: ClassVar[list[int]] = []


@pytest.fixture(autouse=True)
def two_consumers(settings: Any) -> None:
    settings.EVENT_SUBSCRIBERS = []  # projected here, by the calls below
    settings.PROJECTION_BATCH_SIZE = 5
    Current.seen.clear()
    Laggard.seen.clear()


def test_a_consumer_far_behind_does_not_hold_back_the_others_new_events(settings: Any) -> None:
    per_partition = dict.fromkeys(all_partitions(), 0)
    while min(per_partition.values()) <= 5:  # a stretch longer than a batch in every partition
        placed = handle(CreateOrderFactory(order_id=uuid4()))
        per_partition[partition_of_bucket(bucket_of(placed.stream_id))] += 1
    settings.PROJECTIONS = [f"{HERE}.Current"]
    for partition in all_partitions():
        while run_partition(partition):
            pass
    ProjectionCheckpoint.objects.bulk_create(
        [ProjectionCheckpoint(projection="laggard", partition=partition) for partition in all_partitions()]
    )
    settings.PROJECTIONS = [f"{HERE}.Current", f"{HERE}.Laggard"]
    new = handle(CreateOrderFactory(order_id=uuid4()))
    partition = partition_of_bucket(bucket_of(new.stream_id))
    assert new.position not in Current.seen

    result = run_batch(partition, {"current": Current(), "laggard": Laggard()}, wait=False)

    assert new.position in Current.seen  # in the first batch, not after the laggard's stretch
    assert result.skipped == frozenset({"laggard"})
    assert Laggard.seen == []
    # Left to itself, the laggard then catches up on everything, once.
    while run_partition(partition):
        pass
    in_partition = [
        event.position
        for event in EventStore().read_all(0, limit=10_000)
        if partition_of_bucket(bucket_of(event.stream_id)) == partition
    ]
    assert sorted(Laggard.seen) == in_partition
