"""Cold storage of whole streams: segments that are immutable, compressed, checksummed, and
read back exactly as they were written.

A segment holds one stream's stored events (position order) and its snapshot as the log held
them: personal values stay sealed under their subject's key (eventlog/personal.py), so
deleting that key (forgetting) makes the archived copy unreadable as well as the hot one,
with no rewrite of the segment. Layout: gzip (no timestamp, so the same stream gives the same
bytes on every run) of a header line and a body line; the header names the format version,
the body's sha256, the number of events and their positions. The manifest
(`ArchivedStream`) holds the sha256 of the stored bytes. A segment that fails either check,
or carries a format this code does not know, raises CorruptSegment: nothing is served from it.

Segments live behind Django's storage API (`STORAGES["archive"]`): the local filesystem by
default, an S3-compatible store in production (docs/operations.md).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

FORMAT_VERSION = 1
KNOWN_FORMATS = frozenset({1})
# Decoded segments kept per process: they never change, and an archived order's history pages
# and as-of reads hit the same one. Only the sealed form is kept; unsealing is done per read.
CACHED_SEGMENTS = 256
# fsyncs `flush` keeps waiting at once.
SYNCS_IN_FLIGHT = 16

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


class CorruptSegment(Exception):
    """A segment whose bytes or body do not match their checksum, or of an unknown format."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Segment:
    """One stream's stored events (each a dict of StoredEvent's columns, data sealed as
    stored) in position order, and its snapshot row (or None)."""

    stream_id: str
    stream_type: str
    events: list[dict[str, Any]]
    snapshot: dict[str, Any] | None

    @property
    def first_position(self) -> int:
        return int(self.events[0]["position"])

    @property
    def last_position(self) -> int:
        return int(self.events[-1]["position"])

    @property
    def last_version(self) -> int:
        return int(self.events[-1]["version"])


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode(segment: Segment) -> bytes:
    """The stored bytes of a segment (deterministic)."""
    events = [{name: _plain(value) for name, value in event.items()} for event in segment.events]
    snapshot = None if segment.snapshot is None else {k: _plain(v) for k, v in segment.snapshot.items()}
    body = _encode(
        {"stream_id": segment.stream_id, "stream_type": segment.stream_type, "events": events, "snapshot": snapshot}
    )
    header = _encode(
        {
            "format": FORMAT_VERSION,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "events": len(events),
            "first_position": segment.first_position,
            "last_position": segment.last_position,
        }
    )
    return gzip.compress(header + b"\n" + body, compresslevel=6, mtime=0)


def checksum(blob: bytes) -> str:
    """The sha256 the manifest records of a stored segment."""
    return hashlib.sha256(blob).hexdigest()


def decode(blob: bytes, expected_checksum: str | None = None) -> Segment:
    """The segment in `blob`, checked against the manifest's checksum (if given), its own
    header and its format; CorruptSegment otherwise."""
    if expected_checksum is not None and checksum(blob) != expected_checksum:
        raise CorruptSegment("the stored segment does not match the manifest's checksum")
    try:
        header_line, body = gzip.decompress(blob).split(b"\n", 1)
        header = _decode(header_line)
    except (OSError, EOFError, ValueError, msgspec.DecodeError) as error:
        raise CorruptSegment(f"unreadable segment: {error}") from error
    if header.get("format") not in KNOWN_FORMATS:
        raise CorruptSegment(f"unknown segment format {header.get('format')!r}")
    if hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise CorruptSegment("the segment's body does not match its own checksum")
    content = _decode(body)
    events = [
        {**event, "event_id": UUID(event["event_id"]), "recorded_at": datetime.fromisoformat(event["recorded_at"])}
        for event in content["events"]
    ]
    if len(events) != header["events"] or not events:
        raise CorruptSegment("the segment's header and body disagree")
    return Segment(
        stream_id=content["stream_id"],
        stream_type=content["stream_type"],
        events=events,
        snapshot=content["snapshot"],
    )


def segment_name(stream_type: str, stream_id: str, first_position: int, last_position: int) -> str:
    """Where a stream's segment is stored: the same name on every run for the same events."""
    return f"streams/{stream_type}/{stream_id[:2]}/{stream_id}/{first_position}-{last_position}.seg.gz"


def archive_storage() -> Storage:
    """The storage segments live in (settings.STORAGES["archive"])."""
    return storages["archive"]


def write(name: str, blob: bytes, *, synced: bool = True) -> None:
    """Store `blob` under `name`. A segment already there with the same bytes (a run killed
    after writing it) is kept; one with other bytes was never verified (only a manifest row
    vouches for a segment, and the caller has none for it) and is replaced. Not `synced`:
    the caller flushes it (`flush`) before anything relies on it."""
    storage = archive_storage()
    if storage.exists(name):
        with storage.open(name, "rb") as existing:
            if existing.read() == blob:
                return
        storage.delete(name)
    saved = storage.save(name, ContentFile(blob))
    if saved != name:
        raise CorruptSegment(f"the storage stored {name} as {saved}")
    if synced:
        flush([name])


def flush(names: Sequence[str]) -> None:
    """On a local filesystem, fsync the segments and their directories: the log's rows are
    deleted only after this, so a power cut cannot take a segment with them (an object
    store's PUT is durable when it returns). Written first and synced together, the disk is
    waited for about once, not once per segment."""
    storage = archive_storage()
    try:
        paths = [Path(storage.path(name)) for name in names]
    except NotImplementedError:
        return
    directories = {path.parent for path in paths} | {path.parent.parent for path in paths}
    # Several fsyncs in flight at once (threads: the wait releases the GIL), so the filesystem
    # commits them together instead of one journal commit after another. Every one has returned
    # (or raised) before flush does.
    with ThreadPoolExecutor(max_workers=SYNCS_IN_FLIGHT) as syncing:
        list(syncing.map(_fsync, paths, [os.O_RDONLY] * len(paths)))
        folders = sorted(directories)
        list(syncing.map(_fsync, folders, [os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)] * len(folders)))


def _fsync(target: Path, flags: int) -> None:
    descriptor = os.open(target, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read(name: str, expected_checksum: str) -> Segment:
    """The segment stored under `name`, verified (cached once verified: segments never change)."""
    key = (name, expected_checksum)
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached
    with archive_storage().open(name, "rb") as stored:
        segment = decode(stored.read(), expected_checksum)
    _cache[key] = segment
    if len(_cache) > CACHED_SEGMENTS:
        _cache.popitem(last=False)
    return segment


_cache: OrderedDict[tuple[str, str], Segment] = OrderedDict()


def rows(segment: Segment, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """The segment's events as rows of `columns` (as the store's own queries return them)."""
    return [tuple(event[column] for column in columns) for event in segment.events]
