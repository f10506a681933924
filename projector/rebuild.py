"""Rebuilding projections from the event log.

Readers see the old rows until the complete new ones replace them at once, commands keep
committing, and the rebuilt projections continue from the head the rebuild reached. On
PostgreSQL (with a role that owns the tables) the rebuild is blue/green
(projector/shadow.py): it builds new tables beside the live ones, which live projection
keeps updating meanwhile, and swaps them in one short transaction. Elsewhere (SQLite, the
embedded default, or a role that may not create tables) it runs in place, in one
read-database transaction that holds every checkpoint lock of the projections it
rebuilds: live projection of those projections waits until it commits.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from functools import partial

from django.conf import settings
from django.db import connections, transaction

from eventlog.history import whole_log
from eventlog.recorded import RecordedEvent
from eventlog.store import EventStore, event_store
from projector import carried, shadow
from projector.dead_letters import BLOCKING, NOTHING_STANDING, standing
from projector.loop import Projector, all_partitions, lock_checkpoint, read_database
from projector.models import DeadLetter
from projector.projection import Projection, loading
from projector.read_ahead import can_read_ahead, log_batches
from projector.shadow_indexes import build_indexes

Progress = Callable[[int, int], None]
# Told each step of a rebuild as it begins: "in place" then "done" for one in place; a
# blue/green one says "preparing", "loading", "indexing", "catching up", "swapping", "done".
# From archive rows, "restoring archived rows" comes before "loading", and "replaying NAME
# in full: why" for each projection that cannot take that path.
Phase = Callable[[str], None]


def rebuild(projection: Projection, *, progress: Progress | None = None, store: EventStore | None = None) -> int:
    """Replace the projection's tables by a replay of the whole log; returns the head reached."""
    return rebuild_together([projection], progress=progress, store=store)


def rebuild_together(
    projections: Sequence[Projection],
    *,
    progress: Progress | None = None,
    store: EventStore | None = None,
    phase: Phase | None = None,
    from_archive_rows: bool = False,
) -> int:
    """Replace the projections' tables by a replay of the whole log, all in one pass;
    returns the head the new tables reached.

    Each batch of the log is read and decoded once and handed to every projection: the
    decoding costs as much as a light projection's work (docs/performance-log.md).

    `from_archive_rows`: the projections whose rows every archived stream carries (or that
    read no archived stream) restore those and replay only the hot log; the others are
    replayed in full after (projector/carried.py says when, and `phase` is told why).
    """
    refuse_process_managers(projections)
    hot = store or event_store()
    projections = sorted(projections, key=lambda projection: projection.name)
    announce = phase or (lambda step: None)
    if not from_archive_rows:
        # The whole log: the archived streams' events too (eventlog/history.py).
        head = _rebuild(projections, whole_log(hot), progress, announce, restore=None)
        announce("done")
        return head
    planned = carried.plan(projections, hot.using)
    replayed = dict(planned.replayed)
    for name, reason in replayed.items():
        announce(f"replaying {name} in full: {reason}")
    carrying, head = planned.carrying, 0
    while carrying or planned.hot_only:
        try:
            restore = partial(_restore, carrying, hot.using, announce)
            fast = [*carrying, *planned.hot_only]
            head = _rebuild(fast, carried.hot_log(hot), progress, announce, restore=restore)
            break
        except carried.NotCarried as lacking:
            # Rare (streams archived before rows were carried, a lost file): what was restored
            # went with the shadow or the transaction; the rest try again without these.
            for name, reason in lacking.reasons.items():
                announce(f"replaying {name} in full: {reason}")
            replayed.update(lacking.reasons)
            carrying = [projection for projection in carrying if projection.name not in lacking.reasons]
    in_full = [projection for projection in projections if projection.name in replayed]
    if in_full:
        head = max(head, _rebuild(in_full, whole_log(hot), progress, announce, restore=None))
    announce("done")
    return head


def _restore(projections: list[Projection], store_using: str, announce: Phase) -> None:
    announce("restoring archived rows")
    carried.restore(projections, store_using, read_database())


def _rebuild(
    projections: list[Projection],
    store: EventStore,
    progress: Progress | None,
    announce: Phase,
    *,
    restore: Callable[[], None] | None,
) -> int:
    with old_objects_frozen():
        if shadow.possible(read_database()):
            return _blue_green(projections, store, progress, announce, restore)
        announce("in place")
        return _in_place(projections, store, progress, restore)


@contextmanager
def old_objects_frozen() -> Iterator[None]:
    """Keep the objects that exist now out of the cyclic garbage collector's passes for the
    block, and give them back to it after.

    A rebuild allocates a batch's events, views and rows by the thousand, and each full
    collection it triggers walked every object of the process as well (Django, the apps,
    the settings: about 100,000): 12-20% of the time of an 8,000-event pass.
    Frozen, they are skipped; nothing is freed any later than the block's end, and garbage
    made during the block is collected as before. If someone froze objects already (a
    server that freezes before forking, to spare copy-on-write pages), theirs stay frozen
    and this does nothing.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _blue_green(
    projections: list[Projection],
    store: EventStore,
    progress: Progress | None,
    announce: Phase,
    restore: Callable[[], None] | None = None,
) -> int:
    using = read_database()
    read_ahead = can_read_ahead(store)
    with shadow.exclusive(using):
        announce("preparing")
        # The head is fixed before the shadow exists, so that the reader thread reads and
        # decodes the first batch while this one creates the shadow's tables: nothing
        # past the head is replayed, and the catch-up below starts from it either way.
        head = store.head_position()
        batches = log_batches(store, head, int(settings.REBUILD_BATCH_SIZE), read_ahead=read_ahead)
        with closing(batches):
            target = shadow.prepare(projections, using)
            try:
                projectors = [Projector(projection, store) for projection in projections]
                with _load(projections, using, within=lambda: shadow.inside(target)):
                    if restore is not None:
                        with shadow.inside(target):
                            restore()
                    announce("loading")
                    _replay(projectors, batches, head, progress, within=lambda: shadow.inside(target))
                shadow.start_checkpoints(target, projections, head)
                announce("indexing")
                build_indexes(target)
                announce("catching up")
                reached = shadow.catch_up(target, projections, store, head)
                announce("swapping")
                return shadow.swap(target, projections, store, reached)
            finally:
                shadow.drop(using)


def _in_place(
    projections: list[Projection],
    store: EventStore,
    progress: Progress | None,
    restore: Callable[[], None] | None = None,
) -> int:
    using = read_database()
    projectors = [Projector(projection, store) for projection in projections]
    read_ahead = can_read_ahead(store)  # before this rebuild's own transaction opens
    # On PostgreSQL the rebuild lock keeps the archiver from moving a stream out of the log
    # while this replay reads it (SQLite's one writer does the same).
    exclusive = shadow.exclusive(using) if connections[using].vendor == "postgresql" else nullcontext()
    with exclusive, transaction.atomic(using=using):
        checkpoints = [
            lock_checkpoint(projection.name, partition, using)
            for projection in projections
            for partition in all_partitions()
        ]
        for projection in projections:
            for table in projection.tables:
                table._default_manager.using(using).all().delete()
        DeadLetter.objects.using(using).filter(
            projection__in=[projection.name for projection in projections], status__in=BLOCKING
        ).delete()
        head = store.head_position()
        with (
            _load(projections, using, within=nullcontext),
            closing(log_batches(store, head, int(settings.REBUILD_BATCH_SIZE), read_ahead=read_ahead)) as batches,
        ):
            if restore is not None:
                restore()
            _replay(projectors, batches, head, progress, within=nullcontext)
        for checkpoint in checkpoints:
            checkpoint.position = head
            checkpoint.save(update_fields=["position", "updated_at"])
    return head


@contextmanager
def _load(
    projections: Sequence[Projection], using: str, *, within: Callable[[], AbstractContextManager[object]]
) -> Iterator[None]:
    """The block loads empty tables (`loading` is set), then each projection's `after_load`
    runs `within` the same tables. A block that fails runs none of them."""
    token = loading.set(True)
    try:
        yield
    finally:
        loading.reset(token)
    with within():
        for projection in projections:
            projection.after_load(using)


def _replay(
    projectors: Sequence[Projector],
    batches: Iterable[list[RecordedEvent]],
    head: int,
    progress: Progress | None,
    *,
    within: Callable[[], AbstractContextManager[object]],
) -> None:
    """Apply the log's `batches` (up to `head`) to every projector, batch by batch, each batch
    `within` the given context (a transaction into the shadow tables, or nothing more). The
    dead letters in the way (blocked streams, skipped events) are looked up once per batch
    for all of them, as run_batch does."""
    names = [projector.projection.name for projector in projectors]
    for events in batches:
        with within():
            letters = standing(names, events, read_database())
            for projector in projectors:
                projector.apply_isolating_failures(events, letters.get(projector.projection.name, NOTHING_STANDING))
        if progress is not None:
            progress(events[-1].position, head)


def refuse_process_managers(projections: Iterable[Projection]) -> None:
    """ValueError if any of them is not rebuildable: replaying a consumer that acts on the
    world (a process manager sends commands, the relay publishes) would act again."""
    fixed = sorted(projection.name for projection in projections if not projection.rebuildable)
    if fixed:
        raise ValueError(
            f"{', '.join(fixed)} acts on the world (sends commands or messages) and is never rebuilt;"
            " to replay it, move its checkpoints back (docs/operations.md)"
        )
