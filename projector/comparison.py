"""The read-model check: each projection's live tables equal a fresh replay of the log.

The guarantee: a live row that differs from what the projection's own `apply` makes of the
log (tampered with, lost, or left by a bug that is fixed since) is reported by table and
key, and the live tables are never written: the fresh copy is made beside them and dropped,
and so are copies of the tables the replay writes without owning them (the notification
outbox, the forgotten customers: `Projection.writes_beside`).

The fresh copy is made by the engine's own loop (projector/loop.py `run_batch`), from empty
checkpoints, so there is no second way of applying the log:

* blue/green (PostgreSQL, a role that owns the tables; shadow.possible): shadow.prepare
  makes empty copies of the tables in the shadow schema, shadow.catch_up replays the whole
  log into them while live projection goes on, and shadow.drop removes them at the end. The
  rebuild lock is held throughout: a rebuild and a verification share the shadow schema.
* in place (SQLite, or a role that may not create schemas): in one transaction on the read
  database, the live rows are copied to temporary tables, the tables emptied and replayed,
  compared, and the transaction rolled back. Live projection of that projection waits
  meanwhile (on SQLite every writer does: its transactions are IMMEDIATE).

Comparing at one position. A live projection moves on while the copy is built, and a row
compared before an event with the copy after it would be a false divergence. A checkpoint
of a partition at position P means every event of that partition up to P is applied, and
none after (projector/loop.py); so two copies of a projection hold the same rows exactly
when, for every partition, no event of it lies between their two checkpoints. The check
therefore waits (up to Options.wait_seconds, polling) until the live checkpoints have
reached the copy's, then, in one transaction that locks the live checkpoint rows (live
projection of that projection pauses, as during a rebuild's swap), moves the copy on to the
live checkpoints exactly, partition by partition, by the same loop reading the log only up
to each one (`_LogUpTo`), and compares. Each projection is locked and compared on its own.

Row comparison is generic: every column of the live table (its concrete fields) is compared
by `EXCEPT` both ways; rows are named by their primary key, or, where that is a surrogate
counter (an AutoField, which a replay numbers afresh), by the columns of the model's first
unique constraint, and the counter is left out. No projection writes a clock of its own
(its timestamps come from the events), so no other column is left out. One row is taken for
no row: a row on one side only whose other columns are all numbers at zero (a status count
at 0, a day's sales all nil), because whether a counter's row exists depends on how the
events were batched (a status entered and left within one batch writes nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connections, models, transaction

from eventlog.history import whole_log
from eventlog.models import StoredEvent
from eventlog.store import EventStore, event_store
from projector import shadow
from projector.dead_letters import BLOCKING
from projector.loop import all_partitions, read_database, run_batch
from projector.models import DeadLetter, ProjectionCheckpoint
from projector.partitions import buckets_of
from projector.projection import Projection
from projector.rebuild import refuse_process_managers
from projector.registry import all_projections
from projector.verification import Divergence, Options

CHECK = "read-models"
# How often the check looks again at a live projection it waits for.
POLL_SECONDS = 0.2
# Keys named per kind of difference and table; the count says how many there are in all.
SHOWN = 10


def read_models(options: Options) -> list[Divergence]:
    """Compare each selected projection (every rebuildable one if none) with a fresh replay."""
    projections = _selected(options.projections)
    if not projections:
        return []
    # The whole log, the archived streams' events too (eventlog/history.py).
    store, using = whole_log(event_store()), read_database()
    if shadow.possible(using):
        return _against_shadow(projections, store, using, options.wait_seconds)
    return [found for projection in projections for found in _in_place(projection, store, using)]


def _selected(names: Sequence[str]) -> list[Projection]:
    projections = all_projections()
    unknown = sorted(set(names) - set(projections))
    if unknown:
        raise KeyError(f"Unknown projection(s): {', '.join(unknown)}; known: {', '.join(projections)}")
    chosen = [projections[name] for name in names] if names else [p for p in projections.values() if p.rebuildable]
    refuse_process_managers(chosen)
    return sorted(chosen, key=lambda projection: projection.name)


def _against_shadow(projections: list[Projection], store: EventStore, using: str, wait: float) -> list[Divergence]:
    with shadow.exclusive(using):
        target = shadow.prepare(projections, using, beside=True)
        try:
            shadow.start_checkpoints(target, projections, 0)
            shadow.catch_up(target, projections, store, 0)
            return [found for projection in projections for found in _with_shadow(target, projection, store, wait)]
        finally:
            shadow.drop(using)


def _with_shadow(target: shadow.Shadow, projection: Projection, store: EventStore, wait: float) -> list[Divergence]:
    """Compare once the live checkpoints have reached the shadow's (see the module docstring)."""
    quote = target.connection.ops.quote_name
    deadline = time.monotonic() + wait
    while True:
        with transaction.atomic(using=target.using):
            live = _lock_live(projection.name, target.using)
            with shadow.inside(target):
                fresh = _positions(projection.name, target.using)
            lagging = _lagging(store, live, fresh)
            if not lagging:
                with shadow.inside(target):
                    _replay_up_to(projection, store, live)
                return _differences(
                    projection,
                    live=lambda table: f"{quote(target.live)}.{quote(table)}",
                    fresh=lambda table: f"{shadow.SHADOW}.{quote(table)}",
                    using=target.using,
                )
        if time.monotonic() >= deadline:
            where = ", ".join(f"partition {p} at {live[p]} of {fresh[p]}" for p in lagging)
            return [
                Divergence(
                    CHECK,
                    projection.name,
                    f"the live projection did not reach the log position of the fresh copy within {wait:g}s"
                    f" ({where}): not compared; is a worker projecting?",
                )
            ]
        time.sleep(POLL_SECONDS)


def _in_place(projection: Projection, store: EventStore, using: str) -> list[Divergence]:
    """Replay into the live tables inside a transaction that is rolled back (see the docstring)."""
    quote = connections[using].ops.quote_name
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        live = _lock_live(projection.name, using)
        for model in projection.tables:
            table = model._meta.db_table
            cursor.execute(f"CREATE TEMPORARY TABLE {quote(_kept(table))} AS SELECT * FROM {quote(table)}")
            cursor.execute(f"DELETE FROM {quote(table)}")
        ProjectionCheckpoint.objects.using(using).filter(projection=projection.name).update(position=0)
        DeadLetter.objects.using(using).filter(projection=projection.name, status__in=BLOCKING).delete()
        _replay_up_to(projection, store, live)
        found = _differences(
            projection, live=lambda table: quote(_kept(table)), fresh=lambda table: quote(table), using=using
        )
        transaction.set_rollback(True, using=using)
    return found


def _kept(table: str) -> str:
    return f"verify_live_{table}"


def _lock_live(name: str, using: str) -> dict[int, int]:
    """The live checkpoints of `name` per partition, locked FOR UPDATE (created if missing,
    as the engine does) so that live projection of it waits until this transaction ends."""
    rows = ProjectionCheckpoint.objects.using(using)
    rows.bulk_create(
        [ProjectionCheckpoint(projection=name, partition=p) for p in all_partitions()], ignore_conflicts=True
    )
    locked = rows.select_for_update().filter(projection=name).order_by("partition")
    return {row.partition: row.position for row in locked}


def _positions(name: str, using: str) -> dict[int, int]:
    rows = ProjectionCheckpoint.objects.using(using).filter(projection=name).values_list("partition", "position")
    return dict(rows)


def _lagging(store: EventStore, live: dict[int, int], fresh: dict[int, int]) -> list[int]:
    """The partitions whose live checkpoint has yet to apply an event the copy has applied."""
    events = StoredEvent.objects.using(store.using)
    return [
        partition
        for partition, position in sorted(live.items())
        if position < fresh.get(partition, 0)
        and events.filter(
            bucket__in=buckets_of(partition), position__gt=position, position__lte=fresh[partition]
        ).exists()
    ]


def _replay_up_to(projection: Projection, store: EventStore, positions: dict[int, int]) -> None:
    """Apply to the copy (the tables the search path names) each partition's events up to its
    position, with the engine's loop."""
    for partition, position in sorted(positions.items()):
        bounded = _LogUpTo(store, position)
        # The ignore: _LogUpTo stands in for the store by delegation, which no nominal type says.
        while run_batch(partition, {projection.name: projection}, wait=True, store=bounded).more:  # type: ignore[arg-type]
            pass


class _LogUpTo:
    """The event store as the loop sees it when the log ends at `position`: its head is there."""

    def __init__(self, store: EventStore, position: int) -> None:
        self._store, self._position = store, position

    def head_position(self) -> int:
        return self._position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _differences(
    projection: Projection, *, live: Callable[[str], str], fresh: Callable[[str], str], using: str
) -> list[Divergence]:
    """Rows of each table that differ between the live copy and the fresh one, by key."""
    found: list[Divergence] = []
    quote = connections[using].ops.quote_name
    with connections[using].cursor() as cursor:
        for model in projection.tables:
            table = model._meta.db_table
            key, fields = _key_and_compared(model)
            listed = ", ".join(quote(field.column) for field in fields)
            at = [fields.index(field) for field in key]
            only: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {}
            for side, first, second in (("live", live(table), fresh(table)), ("fresh", fresh(table), live(table))):
                cursor.execute(f"SELECT {listed} FROM {first} EXCEPT SELECT {listed} FROM {second}")
                # The key as its fields read it: SQLite hands a temporary copy's values back
                # as stored (text), those of a declared date or UUID column converted.
                only[side] = {
                    tuple(field.to_python(row[i]) for field, i in zip(key, at, strict=True)): tuple(row)
                    for row in cursor.fetchall()
                }
            differing = set(only["live"]) & set(only["fresh"])
            for kind, rows in (
                ("differs from the log's", differing),
                ("is not in the log's", _meaningful(only["live"], differing, at)),
                ("is missing; the log has it", _meaningful(only["fresh"], differing, at)),
            ):
                if rows:
                    ordered = sorted(rows, key=_named)
                    shown = ", ".join(_named(row) for row in ordered[:SHOWN]) + (" ..." if len(rows) > SHOWN else "")
                    found.append(
                        Divergence(
                            CHECK, f"{projection.name}: {table}", f"{len(rows)} row(s) whose live copy {kind}: {shown}"
                        )
                    )
    return found


def _meaningful(
    rows: dict[tuple[Any, ...], tuple[Any, ...]], differing: set[tuple[Any, ...]], at: list[int]
) -> set[tuple[Any, ...]]:
    """The keys of rows on one side only, but for rows of counters all at zero: such a row
    says what no row says, and whether one exists depends on how the events were batched
    (a status entered and left within one batch nets to no change, and writes no row)."""
    return {
        key
        for key, row in rows.items()
        if key not in differing and not all(_zero(value) for i, value in enumerate(row) if i not in at)
    }


def _zero(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value == 0


def _key_and_compared(model: type[models.Model]) -> tuple[list[models.Field[Any, Any]], list[models.Field[Any, Any]]]:
    """The fields that name a row, and those compared (all but a surrogate counter)."""
    pk = model._meta.pk
    assert pk is not None
    concrete = list(model._meta.concrete_fields)
    if isinstance(pk, models.CompositePrimaryKey):  # named by its columns, all compared
        return [field for field in pk.fields if isinstance(field, models.Field)], concrete
    # BigAutoField counts too: AutoField's metaclass says so.
    if not isinstance(pk, models.AutoField):
        return [pk], concrete
    compared = [field for field in concrete if field is not pk]
    unique = next((c for c in model._meta.constraints if isinstance(c, models.UniqueConstraint) and c.fields), None)
    # A unique constraint names concrete fields only (Django's checks refuse others).
    by_name = {field.name: field for field in concrete}
    key = [by_name[name] for name in unique.fields] if unique else compared
    return key, compared


def _named(key: tuple[Any, ...]) -> str:
    return "/".join(str(value) for value in key)
