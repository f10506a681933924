"""Carrying the read-model rows of streams archived before rows were carried, or carried in a
format the projections no longer write (`manage.py carry_archived_rows`), so that the next
`rebuild_projections --from-archive-rows` restores them instead of replaying everything.

Guarantees, the archiver's own (archive/procedure.py):

- the rows are folded by each projection's own code from the events of the stream's segment,
  read through its manifest checksum (a segment that fails it stops the run), exactly as the
  archiver folds them from the log's rows before writing the segment;
- a rows file is written, then read back and its checksum and formats checked, then flushed
  with the others of its round; only a file that reads back whole counts as carried;
- the segments, the manifest and the log are never written: a run killed at any point leaves
  at most a rows file missing or cut short, which the next run finds (it reads every file
  whole, checksum included) and writes again. Run again, it writes only what still lacks;
- each round holds the lock a rebuild holds, so no rebuild reads a rows file while it is
  being replaced: on PostgreSQL the rebuild lock (projector/shadow.py); on SQLite, where the
  rebuild runs in place in one write transaction, a write transaction of its own (SQLite lets
  one writer in at a time). A round that finds the lock taken waits, on SQLite up to the
  connection's timeout, and then stops with RebuildRunning, writing nothing more.

A stream restored to the log meanwhile (`restore_stream`) is passed over; a rows file written
for it after the restore deleted its segment is unreferenced, and replaced if the stream is
archived again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import OperationalError, connections, transaction

from archive.procedure import database
from eventlog import cold
from eventlog.store import event_store
from projector import carried, shadow
from projector.loop import read_database
from projector.projection import Projection
from projector.registry import all_projections

# Streams whose rows are written, then flushed to disk together, per round (and per holding
# of the rebuild lock).
ROUND = 200


@dataclass
class Carried:
    """What one run did."""

    written: int = 0  # rows files written (none before, cut short, or of another format)
    current: int = 0  # already carried in the current formats: left as they are
    passed_over: int = 0  # restored to the log while the run went


def carry_archived_rows(*, step: Callable[[str], None] | None = None) -> Carried:
    """Write the rows file of every archived stream lacking a current one; `step` is told
    each stream whose file was written and read back (tests stop the run there)."""
    using = database()
    projections = list(all_projections().values())
    formats = carried.current_formats(projections)
    outcome = Carried()
    if not formats:
        return outcome
    manifest = carried.archived(using).order_by("first_position").values_list("stream_id", "segment", "checksum")
    for round_ in carried.manifest_batches(manifest, ROUND):
        with _rebuild_lock():
            cold.flush(list(_carry_round(round_, projections, outcome, step)))
    return outcome


@contextmanager
def _rebuild_lock() -> Iterator[None]:
    """The lock a rebuild holds on the read database, held for the block."""
    using = read_database()
    if connections[using].vendor == "postgresql":
        with shadow.exclusive(using):
            yield
        return
    # SQLite: the in-place rebuild's write transaction (projector/rebuild.py) keeps every other
    # writer out until it commits; this one waits its turn as they do. Only BEGIN may fail with
    # the lock taken; an error inside the block is the round's own, not a rebuild's.
    round_ = ExitStack()
    try:
        round_.enter_context(transaction.atomic(using=using))
    except OperationalError as error:
        raise shadow.RebuildRunning(
            f"The database stayed locked by another writer ({error}): a rebuild is most likely running;"
            " try again when it has finished."
        ) from error
    with round_:
        yield


def _carry_round(
    streams: list[tuple[str, str, str]],
    projections: list[Projection],
    outcome: Carried,
    step: Callable[[str], None] | None,
) -> Iterator[str]:
    """The rows files written for this round's streams (their storage names)."""
    using = database()
    formats = carried.current_formats(projections)
    for stream_id, segment_name, checksum in streams:
        if _carried_now(segment_name, stream_id, formats):
            outcome.current += 1
            continue
        try:
            segment = cold.read(segment_name, checksum)
        except OSError:
            if event_store(using).is_archived(stream_id):
                raise
            outcome.passed_over += 1  # restored to the log since the manifest was listed
            continue
        events = event_store(using).read_archived_stream(stream_id)
        carried.write(segment_name, carried.carry(segment, events, projections, using))
        if not _carried_now(segment_name, stream_id, formats):
            raise carried.CorruptCarriedRows(f"the rows written for {stream_id} do not read back as written")
        outcome.written += 1
        if step is not None:
            step(stream_id)
        yield carried.rows_name(segment_name)


def _carried_now(segment_name: str, stream_id: str, formats: dict[str, Any]) -> bool:
    """Whether the stream's rows file reads back whole, checksum included, in `formats`."""
    try:
        found = carried.read(segment_name, stream_id)
    except carried.CorruptCarriedRows:
        return False  # cut short by a killed run, or damaged: written again
    return found is not None and found[0].get("formats") == formats
