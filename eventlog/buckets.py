"""A stream's bucket (0..255): stored with each of its events (StoredEvent.bucket), so that a
reader can take the events of a share of the streams, each stream's events all in one share
(a projection partition reads only its buckets: projector/partitions.py).

The guarantee: a stream's bucket is the same in every process and every release (a CRC of
its id, never Python's salted hash), since the rows keep the bucket they were written with.
"""

from __future__ import annotations

import zlib

BUCKETS = 256


def bucket_of(stream_id: str) -> int:
    """Stable bucket (0..255) of a stream, the same in every process and release."""
    return zlib.crc32(stream_id.encode()) % BUCKETS
