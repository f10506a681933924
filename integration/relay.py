"""The outbound relay: the event log is the outbox, and the relay a projection of it.

It rides the projector (projector/loop.py), so it reads committed events in the
same gap-safe order, partition by partition, as every read model. Its `apply` publishes a
batch with publisher confirms inside the transaction that moves its checkpoint: if the
broker is unreachable, refuses a message (a nack) or does not confirm in time,
BrokerUnavailable (a transient error) rolls the batch back, the checkpoint stays, and a
later doorbell or catch-up, once the publisher's backoff has passed, publishes it again (at
least once, same `id`). Only an event it cannot map becomes a dead letter, holding only its
own stream: a broker's "no" is never the event's fault. Each stream's fold after the batch is
kept in the same transaction (integration/carried_state.py), so a batch costs what its own
events cost, not its streams' histories.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventlog.recorded import RecordedEvent
from eventlog.store import event_store
from integration.broker import BrokerUnavailable, publisher
from integration.carried_state import carried_folds, carry
from integration.language import PublicEvent
from integration.mapping import known_digest, translate_from
from projector.projection import Projection


class RelayProjection(Projection):
    """Publishes each committed event's public form to the `backoffice.events` exchange."""

    name = "relay"
    tables = ()
    # Publishing again what was published is harmless (consumers dedupe on `id`), but a
    # rebuild would replay the whole log to every subscriber: not part of "rebuild all".
    rebuildable = False
    # A batch shared with read models would wait on the broker while holding their rows.
    shares_batches = False
    transient_errors = (BrokerUnavailable,)
    # Web processes commit and answer without the relay: a broker outage lags it for as
    # long as the outage lasts, and failing readiness on every web process for that would
    # turn one partner-facing fault into a full outage. Reported, and alerted on, instead.
    guards_readiness = False

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Map every event first (a mapping failure publishes nothing), keep each stream's fold
        in this transaction, then publish in order."""
        publisher().publish(public_events(events, using))


def public_events(events: Sequence[RecordedEvent], using: str) -> list[PublicEvent]:
    """The public events of a batch, folded on from the streams' carried folds, whose new ones
    are stored on `using` (in the caller's transaction: the one that moves the checkpoint)."""
    known = known_digest()
    first_versions: dict[str, int] = {}
    for event in events:  # in position order, so a stream's first is its lowest version
        first_versions.setdefault(event.stream_id, event.version)
    public, folds = translate_from(events, event_store(), carried_folds(first_versions, using, known))
    carry(folds, using, known)
    return public
