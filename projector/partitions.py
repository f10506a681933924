"""Which event-log buckets each projection partition reads."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from eventlog.buckets import BUCKETS


def partition_count() -> int:
    """How many partitions each projection's work is split into (settings.PROJECTION_PARTITIONS)."""
    return int(settings.PROJECTION_PARTITIONS)


@cache
def _buckets(partition: int, count: int) -> tuple[int, ...]:
    return tuple(bucket for bucket in range(BUCKETS) if bucket % count == partition)


def buckets_of(partition: int) -> tuple[int, ...]:
    """The buckets (hence streams) a partition owns; every stream is in exactly one."""
    return _buckets(partition, partition_count())


def partition_of_bucket(bucket: int) -> int:
    """The partition that owns a bucket."""
    return bucket % partition_count()
