"""Read-model rows carried into cold storage beside an archived stream's segment, and the
rebuild that restores them and replays only the hot log (`rebuild_projections
--from-archive-rows`).

Guarantee: the fast path gives each projection exactly the tables the full replay gives, or
that projection is replayed in full. A projection takes the fast path only if

- it reads no stream type that is archived (`Projection.stream_types`: products), or
- every archived stream carries its rows under the projection's current `carried_format()`
  (its `carry_version` and its tables' columns; the orders projection adds its timeline
  length). Streams archived before rows were carried, a rows file missing or unreadable, a
  projection whose version or columns changed since: that projection is replayed in full,
  segments and log, as without the option.

What is carried is made by the projection's own fold of the stream's events at archiving
(readmodels/projections/carrying.py), so it is the replay's result by construction, not a
copy of live rows that might lag. An archived stream takes no new event (commands on it
answer 409); the events of other streams that still change its rows (a product renamed, the
customer forgotten) are in the hot log, which the fast path replays after restoring.

A rows file sits next to the segment (`.rows.gz` for `.seg.gz`): gzip of a header line (the
format, the stream, each projection's carried format, the body's sha256) and a body line.
It is written before the segment, so every stream archived since carries one (streams archived
before that get one from `manage.py carry_archived_rows`); it is a cache of what a replay
computes, so a damaged one costs speed, never correctness. Each file is opened once, header
then body: a missing file or header sends the projections to full replay (the restore so far
is dropped with its transaction or shadow tables), and a body failing its checksum stops the
rebuild (blue/green: the live tables stay), to be run again without the option.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from django.core.files.base import ContentFile
from django.db import models
from django.db.models import Max

from eventlog import cold, personal
from eventlog.keys import SubjectKeys
from eventlog.models import ArchivedStream
from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore
from projector.projection import Projection, Sealer

FORMAT_VERSION = 1
# Streams whose rows are read, restored and let go together.
RESTORE_BATCH = 500

_encode = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


class CorruptCarriedRows(Exception):
    """A rows file whose body fails its checksum, or that changed since the plan read it."""


def rows_name(segment_name: str) -> str:
    """Where the rows carried with a segment are stored."""
    return segment_name.removesuffix(".seg.gz") + ".rows.gz"


def typed_row(model: type[models.Model], row: Mapping[str, Any]) -> dict[str, Any]:
    """A carried row read back from JSON, each value as the model's field holds it."""
    fields = {field.name: field for field in model._meta.concrete_fields}
    return {name: fields[name].to_python(value) for name, value in row.items()}


def opened(rows: Sequence[Mapping[str, Any]], using: str) -> list[dict[str, Any] | None]:
    """Carried rows with their personal values unsealed (keys on the log's database `using`);
    None for a row whose key is gone: its subject was forgotten, and the caller does what a
    replay does with the erased data (refold it, or record nothing)."""
    wanted = personal.key_ids(rows)
    secrets = SubjectKeys(using).secrets(wanted) if wanted else {}
    return [personal.unseal(row, secrets) if personal.key_ids([row]) <= secrets.keys() else None for row in rows]


def _sealer(stored_events: Sequence[Mapping[str, Any]], using: str, read_with: Mapping[str, bytes] | None) -> Sealer:
    """Seals under the one key the stream's events were sealed with, while it exists (its
    data was read under it: `read_with`, the keys the events were decoded with, else looked
    up now); a stream with none seals nothing (it holds no personal data). Never a key
    created or found later than the read: data read under a key gone since must not outlive it."""
    ids = personal.key_ids(event["data"] for event in stored_events)
    if len(ids) != 1:
        secrets: dict[str, bytes] = {}
    elif read_with is None:
        secrets = SubjectKeys(using).secrets(ids)
    else:
        secrets = {key_id: read_with[key_id] for key_id in ids if key_id in read_with}
    key = next((personal.SubjectKey(key_id=key_id, secret=secret) for key_id, secret in secrets.items()), None)

    def seal(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any] | None:
        if not personal.has_personal_data(cls, data):
            return dict(data)
        if key is None:
            return None
        return personal.seal(cls, data, _OneKey(key))

    return seal


@dataclass(frozen=True)
class _OneKey:
    """A KeySource that knows one key, for sealing (nothing is ever created through it)."""

    key: personal.SubjectKey

    def key_for(self, subject: str) -> personal.SubjectKey:
        return self.key

    def key_of_loaded(self, subject: str) -> personal.SubjectKey | None:
        return self.key

    def secrets(self, key_ids: Any) -> dict[str, bytes]:
        return {self.key.key_id: self.key.secret}


def carry(
    segment: cold.Segment,
    events: Sequence[RecordedEvent],
    projections: Sequence[Projection],
    using: str,
    read_with: Mapping[str, bytes] | None = None,
) -> bytes:
    """The rows file of a stream about to be archived: what each carrying projection carries
    of its `events` (decoded, with the keys `read_with` if the caller has them; `segment`
    holds them as stored)."""
    seal = _sealer(segment.events, using, read_with)
    carrying = [projection for projection in projections if projection.carried_format() is not None]
    body = _encode({projection.name: projection.carry(events, seal) for projection in carrying})
    header = _encode(
        {
            "format": FORMAT_VERSION,
            "stream_id": segment.stream_id,
            "formats": current_formats(carrying),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
    )
    return gzip.compress(header + b"\n" + body, compresslevel=6, mtime=0)


def write(segment_name: str, blob: bytes) -> None:
    """Store a rows file (replacing one a killed run left), not synced: the segment's flush
    covers its directory, and a lost rows file only sends a rebuild down the full replay."""
    storage = cold.archive_storage()
    name = rows_name(segment_name)
    if storage.exists(name):
        storage.delete(name)
    storage.save(name, ContentFile(blob))


def delete(segment_name: str) -> None:
    """Drop the rows carried with a segment (the stream was restored to the log)."""
    cold.archive_storage().delete(rows_name(segment_name))


def read(segment_name: str, stream_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The header and body of the rows carried with a segment, from one opening of the file.

    None when there is nothing usable to restore from (no file, or a header unreadable or of
    another FORMAT_VERSION): the rebuild replays in full instead. CorruptCarriedRows when the
    header is readable but the body is not, or fails its checksum (a damaged file, or one cut
    short by a killed writer): the caller stops rather than guess."""
    try:
        with cold.archive_storage().open(rows_name(segment_name), "rb") as stored, gzip.open(stored) as unzipped:
            try:
                header = _decode(unzipped.readline())
            except (OSError, EOFError, ValueError, zlib.error, msgspec.DecodeError):
                return None
            if header.get("format") != FORMAT_VERSION:
                return None
            try:
                body = unzipped.read()
            except (OSError, EOFError, ValueError, zlib.error) as error:  # zlib's: damaged deflate data
                raise CorruptCarriedRows(f"the rows carried with {stream_id} are unreadable: {error}") from error
    except (OSError, ValueError):
        return None  # no such file (or the storage refused to open it)
    if header.get("stream_id") != stream_id or hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise CorruptCarriedRows(f"the rows carried with {stream_id} fail their checksum")
    try:
        return header, _decode(body)
    except msgspec.DecodeError as error:
        raise CorruptCarriedRows(f"the rows carried with {stream_id} are unreadable: {error}") from error


def current_formats(projections: Sequence[Projection]) -> dict[str, Any]:
    """What each carrying projection carries now (`carried_format()`), by name."""
    formats = {projection.name: projection.carried_format() for projection in projections}
    return {name: found for name, found in formats.items() if found is not None}


def archived(using: str) -> Any:
    """The manifest rows of the streams in cold storage (not those verified and still hot)."""
    return ArchivedStream.objects.using(using).filter(status=ArchivedStream.Status.ARCHIVED)


class NotCarried(Exception):
    """Found while restoring: an archived stream carries no rows of these projections' current
    format (`reasons`: name -> why); the rebuild replays them in full instead."""

    def __init__(self, reasons: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in reasons.items()))
        self.reasons = reasons


@dataclass
class Plan:
    """Which projections a rebuild tries to restore from carried rows, and which it replays in
    full from the start (restoring can still send a carrying one to full replay: NotCarried)."""

    carrying: list[Projection] = field(default_factory=list)  # carried rows, then the hot log
    hot_only: list[Projection] = field(default_factory=list)  # they read no archived stream
    replayed: dict[str, str] = field(default_factory=dict)  # name -> why it is replayed in full


def plan(projections: Sequence[Projection], using: str) -> Plan:
    """Sort the projections by what they read and whether they carry rows at all. The rows
    files themselves are read once, by `restore`: reading every header here first opened each
    file twice (tests/integration/test_archive_rows_backfill.py counts the openings)."""
    archived_types = set(archived(using).values_list("stream_type", flat=True).distinct())
    outcome = Plan()
    for projection in projections:
        if projection.stream_types is not None and not projection.stream_types & archived_types:
            outcome.hot_only.append(projection)
        elif projection.carried_format() is None:
            outcome.replayed[projection.name] = "it carries no rows"
        else:
            outcome.carrying.append(projection)
    return outcome


def restore(projections: Sequence[Projection], store_using: str, using: str) -> int:
    """Write every archived stream's carried rows into the projections' (empty) tables on
    `using`, a batch of streams at a time, opening each rows file once; returns how many
    streams were restored. NotCarried as soon as a stream carries no rows of a projection's
    current format (oldest streams first: those archived before rows were carried show at
    once); the caller's transaction or shadow tables take what was written with them."""
    if not projections:
        return 0
    formats = current_formats(projections)
    count = 0
    for batch in manifest_batches(archived(store_using).order_by("first_position").values_list("stream_id", "segment")):
        carried: dict[str, list[tuple[str, Any]]] = {name: [] for name in formats}
        for stream_id, segment in batch:
            found = read(segment, stream_id)
            header, body = found if found is not None else ({}, {})
            lacking = [name for name, wanted in formats.items() if header.get("formats", {}).get(name) != wanted]
            if lacking:
                reason = f"archived stream {stream_id} carries no rows of its current format"
                raise NotCarried(dict.fromkeys(lacking, reason))
            for name in formats:
                carried[name].append((stream_id, body[name]))
        for projection in projections:
            projection.restore_carried(carried[projection.name], using)
        count += len(batch)
    return count


def manifest_batches(rows: Any, size: int = RESTORE_BATCH) -> Iterator[list[Any]]:
    """The rows of a manifest query in lists of `size`, read from the database as a stream
    (the archive may hold millions of streams; a batch's files are read and let go together)."""
    batch: list[Any] = []
    for row in rows.iterator():
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class HotLog:
    """The log's own rows, with the head the whole history reached: what the fast path
    replays. Its head counts archived streams, so the rebuilt checkpoints stand where a full
    replay leaves them (past every archived position, which restore_stream relies on)."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def head_position(self) -> int:
        cold_head = archived(self._store.using).aggregate(head=Max("last_position"))["head"] or 0
        return max(self._store.head_position(), int(cold_head))


def hot_log(store: EventStore) -> EventStore:
    """HotLog typed as the store it wraps."""
    hot: Any = HotLog(store)
    return hot  # type: ignore[no-any-return]
