"""The subscriber the event log calls after each commit (settings.EVENT_SUBSCRIBERS)."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from eventlog.buckets import bucket_of
from eventlog.recorded import RecordedEvent
from projector.partitions import partition_of_bucket
from projector.running import ring, run_partition


def on_events_committed(events: Sequence[RecordedEvent]) -> None:
    """Project the partitions the committed events fall in: in-process (embedded default)
    or by ringing a Celery worker. The events themselves are not passed on; the worker
    reads the log, so a lost, late or repeated doorbell cannot lose or repeat an event."""
    partitions = sorted({partition_of_bucket(bucket_of(event.stream_id)) for event in events})
    for partition in partitions:
        if settings.PROJECTIONS_INLINE:
            while run_partition(partition):
                pass
        else:
            ring(partition)
