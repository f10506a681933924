"""Segments of cold storage come back exactly as written, and a segment that was altered in any
way, or carries a format this code does not know, is refused rather than served."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from eventlog import cold


def a_segment() -> cold.Segment:
    at = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    events = [
        {
            "position": 10 + version * 3,
            "event_id": uuid4(),
            "stream_id": "order-1",
            "stream_type": "order",
            "bucket": 7,
            "version": version,
            "event_type": "OrderCreated" if version == 1 else "OrderConfirmed",
            "schema_version": 1,
            "data": {"order_id": "order-1", "personal": {"key": "k", "sealed": "c2VhbGVk"}, "total": "9.90"},
            "metadata": {"correlation_id": "c"},
            "recorded_at": at,
        }
        for version in (1, 2)
    ]
    return cold.Segment(stream_id="order-1", stream_type="order", events=events, snapshot=None)


def test_a_segment_reads_back_equal_and_the_same_events_give_the_same_bytes() -> None:
    segment = a_segment()
    blob = cold.encode(segment)
    assert cold.decode(blob, cold.checksum(blob)) == segment
    assert cold.encode(segment) == blob  # a re-run writes the same bytes under the same name


def test_a_segment_whose_stored_bytes_changed_is_refused() -> None:
    blob = bytearray(cold.encode(a_segment()))
    expected = cold.checksum(bytes(blob))
    blob[len(blob) // 2] ^= 0x01
    with pytest.raises(cold.CorruptSegment):
        cold.decode(bytes(blob), expected)


def test_a_segment_whose_body_disagrees_with_its_own_header_is_refused() -> None:
    header, body = gzip.decompress(cold.encode(a_segment())).split(b"\n", 1)
    forged = gzip.compress(header + b"\n" + body.replace(b"9.90", b"0.01"))
    with pytest.raises(cold.CorruptSegment, match="own checksum"):
        cold.decode(forged)


def test_a_segment_of_an_unknown_format_is_refused() -> None:
    header, body = gzip.decompress(cold.encode(a_segment())).split(b"\n", 1)
    fields = {**json.loads(header), "format": 99, "body_sha256": hashlib.sha256(body).hexdigest()}
    with pytest.raises(cold.CorruptSegment, match="unknown segment format 99"):
        cold.decode(gzip.compress(json.dumps(fields).encode() + b"\n" + body))


def test_garbage_is_refused() -> None:
    with pytest.raises(cold.CorruptSegment):
        cold.decode(b"not a segment")
