"""What a projection is: a named consumer of the event log, run by the engine, that owns some tables."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

from django.db import models

from eventlog.store import RecordedEvent


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

    def can_share(self, events: Sequence[RecordedEvent]) -> bool:
        """Whether these events may be applied in a batch shared with others (if not, this
        projection is left out of it and run on its own). A consumer that writes to the log
        for some events only says False for those."""
        return True

    @abc.abstractmethod
    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Apply `events` (ascending position) with bulk reads and writes."""
