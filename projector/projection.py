"""What a projection is: a named consumer of the event log, run by the engine, that owns some tables."""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, ClassVar

from django.db import models

from eventlog.recorded import RecordedEvent

# Seals the personal values of a carried row (declared by the class, as eventlog/personal.py
# reads them) under the key of the stream's events; None when that key is gone or the stream
# holds data of more than one key: the row is then not carried but refolded on restore.
Sealer = Callable[[type[Any], Mapping[str, Any]], dict[str, Any] | None]


# True while a rebuild loads empty tables (its restore of carried rows and its replay of the
# log, projector/rebuild.py): a projection may then leave rows it derives from its own tables
# to `after_load`, one set-based statement instead of one per batch.
loading: ContextVar[bool] = ContextVar("loading", default=False)


class Projection(abc.ABC):
    """Applies batches of events, in log order, inside the caller's transaction.

    The projector guarantees each event reaches `apply` once per projection (checkpoints
    in the same transaction); `apply` additionally skips events at or below a row's
    version, so applying the same events twice changes nothing.
    """

    name: ClassVar[str]
    # The tables this projection owns; a rebuild empties and refills exactly these.
    tables: ClassVar[tuple[type[models.Model], ...]]
    # Tables it writes but does not own (an outbox, bookkeeping shared with other projections):
    # a rebuild leaves them in place and writes on into them; a verification's fresh replay
    # (projector/comparison.py) writes into throwaway copies of them, never the live rows.
    writes_beside: ClassVar[tuple[type[models.Model], ...]] = ()
    # False for a consumer whose effects are not its tables (a process manager sending
    # commands): "rebuild everything" leaves it alone.
    rebuildable: ClassVar[bool] = True
    # False for a consumer that may write to the event log with any batch (it takes the
    # append lock): a batch shared with read models would hold that lock, and so stall every
    # writer, while they wait on their rows. Such a consumer always runs in a transaction of
    # its own; one that writes for some events only shares, and refuses those (`can_share`).
    shares_batches: ClassVar[bool] = True
    # Errors that say "not now" rather than "never" (an unreachable broker): like a database
    # outage they roll the batch back and leave the checkpoint, never make dead letters.
    transient_errors: ClassVar[tuple[type[Exception], ...]] = ()
    # Event types an operator may never skip when one is dead-lettered (the erasure of a
    # customer's personal data): the failure must be fixed and the event retried.
    never_skipped: ClassVar[frozenset[str]] = frozenset()
    # False for a consumer whose lag does not stop a web process serving (it feeds another
    # service, not the pages and API answers): its lag is reported, never failing readiness.
    guards_readiness: ClassVar[bool] = True
    # The stream types whose events `apply` reads (None: any). A projection that reads no
    # archived stream type needs nothing from cold storage to be rebuilt (projector/carried.py);
    # `apply` filters by this very declaration, so the two cannot drift apart.
    stream_types: ClassVar[frozenset[str] | None] = None
    # Set by a projection that carries its rows of an archived order into cold storage
    # (`carry`, `restore_carried`), so a rebuild may restore them instead of replaying the
    # order's events. Bump it whenever what `apply` would write for an order changes: rows
    # carried under another version are never restored, the projection is replayed instead.
    carry_version: ClassVar[int | None] = None

    def carried_format(self) -> str | None:
        """What rows carried for this projection must match to be restored (None: it carries
        none): its name, `carry_version` and the columns of its tables."""
        if self.carry_version is None:
            return None
        columns = sorted(
            f"{table._meta.db_table}.{field.column}" for table in self.tables for field in table._meta.concrete_fields
        )
        digest = hashlib.sha256("\n".join(columns).encode()).hexdigest()[:16]
        return f"{self.name}/v{self.carry_version}/{digest}"

    def carry(self, events: Sequence[RecordedEvent], seal: Sealer) -> Any:
        """What this projection carries of one archived stream (`events`, all of it), as plain
        JSON-able data, its personal values sealed with `seal` (projector/carried.py)."""
        raise NotImplementedError(f"{self.name} carries nothing into cold storage")

    def restore_carried(self, carried: Sequence[tuple[str, Any]], using: str) -> None:
        """Write the rows carried of these (stream id, carried) into this projection's empty
        tables, as a replay of their streams would have; the caller replays the rest."""
        raise NotImplementedError(f"{self.name} carries nothing into cold storage")

    def can_share(self, events: Sequence[RecordedEvent]) -> bool:
        """Whether these events may be applied in a batch shared with others (if not, this
        projection is left out of it and run on its own). A consumer that writes to the log
        for some events only says False for those."""
        return True

    @abc.abstractmethod
    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Apply `events` (ascending position) with bulk reads and writes."""

    def after_load(self, using: str) -> None:
        """Called once when a rebuild's load (while `loading`) is done, before its indexes are
        built and it catches up: write what `apply` left for then. Nothing by default."""
        return None
