"""Dead letters: an event a projection failed on, and the events of its stream held behind it.

A failing event is retried with backoff (attempts counted in the database, so a worker that
dies mid-task cannot loop it), then parked until an operator retries or skips it. Until it
resolves, later events of its stream are recorded as held: per-stream order is never broken,
and every other stream moves on.

An operator's decision outlives the replay that made the letter: a later replay of a skipped
event's position (a rewound checkpoint, a rebuild in place or blue/green) tries it again (a
fixed projection applies it) and, if it still fails, leaves it skipped: no new letter, no
held stream. An event that fails again where it failed before (or is held again where it
was held) takes up its old letter instead of a second one, so no replay can trip over the
letters of an earlier one and wedge its partition.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from eventlog.recorded import RecordedEvent
from projector.models import DeadLetter

logger = logging.getLogger(__name__)

BLOCKING = (DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED, DeadLetter.Status.HELD)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter before the next automatic attempt."""
    base = float(settings.PROJECTION_RETRY_BASE_SECONDS) * 2 ** (attempts - 1)
    return timedelta(seconds=base * random.uniform(0.5, 1.5))


class SkipRefused(ValueError):
    """The failing event is of a type its projection must apply (its `never_skipped`)."""


@dataclass(frozen=True, slots=True)
class Standing:
    """What the dead letters of one projection say about a batch: the streams held behind a
    letter, and the positions an operator skipped (skipped again if they fail again)."""

    blocked: frozenset[str] = field(default=frozenset())
    skipped: frozenset[int] = field(default=frozenset())


NOTHING_STANDING = Standing()


def standing(names: Iterable[str], events: Sequence[RecordedEvent], using: str) -> dict[str, Standing]:
    """Per projection of `names`, the letters that stand in the way of `events`: one query
    (the one that finds blocked streams finds a stream's skipped letters too)."""
    if not events:
        return {}
    rows = DeadLetter.objects.using(using).filter(
        projection__in=list(names),
        stream_id__any={event.stream_id for event in events},
        status__in=[*BLOCKING, DeadLetter.Status.SKIPPED],
    )
    positions = {event.position for event in events}
    blocked: dict[str, set[str]] = {}
    skipped: dict[str, set[int]] = {}
    for projection, stream_id, status, position in rows.values_list("projection", "stream_id", "status", "position"):
        if status != DeadLetter.Status.SKIPPED:
            blocked.setdefault(projection, set()).add(stream_id)
        elif position in positions:
            skipped.setdefault(projection, set()).add(position)
    return {
        name: Standing(frozenset(blocked.get(name, ())), frozenset(skipped.get(name, ())))
        for name in blocked.keys() | skipped.keys()
    }


def hold(projection: str, events: Sequence[RecordedEvent], using: str) -> None:
    """Record `events` as held behind their stream's dead letter (once each).

    A replay may hold an event again that an earlier retry resolved: its letter is held
    again, or retrying the stream would pass it by. Any other letter of it stays as it is
    (a parked event is held behind itself on a replay; a skipped one stays skipped).
    """
    if not events:
        return
    # Resolved letters first: the UPDATE locks them, and retention prunes only resolved
    # letters it can lock. Inserting first, the insert could find a resolved letter and add
    # nothing, retention remove that letter, and the UPDATE find none: the event held with
    # no letter, never applied. A letter retention removed before the UPDATE is inserted anew.
    DeadLetter.objects.using(using).filter(
        projection=projection, position__any=[event.position for event in events], status=DeadLetter.Status.RESOLVED
    ).update(status=DeadLetter.Status.HELD, attempts=0, next_attempt_at=None)
    DeadLetter.objects.using(using).bulk_create(
        [
            DeadLetter(
                projection=projection,
                position=event.position,
                event_id=event.event_id,
                event_type=event.event_type,
                stream_id=event.stream_id,
                status=DeadLetter.Status.HELD,
            )
            for event in events
        ],
        ignore_conflicts=True,
    )


def record_failure(
    projection: str, event: RecordedEvent, error: Exception, using: str, letter: DeadLetter | None = None
) -> None:
    """Count a failed attempt at `event`: retry later with backoff, or park it for good.

    A replay that fails where an earlier one failed and was resolved starts that letter's
    count again rather than writing a second one (one letter per projection and position).
    """
    if letter is None:
        letter = DeadLetter.objects.using(using).filter(projection=projection, position=event.position).first()
        if letter is not None and letter.status not in BLOCKING:
            letter.attempts = 0
    letter = letter or DeadLetter(
        projection=projection,
        position=event.position,
        event_id=event.event_id,
        event_type=event.event_type,
        stream_id=event.stream_id,
    )
    letter.attempts += 1
    letter.error = f"{type(error).__name__}: {error}"
    letter.traceback = "".join(traceback.format_exception(error))
    if letter.attempts >= int(settings.PROJECTION_MAX_ATTEMPTS):
        letter.status, letter.next_attempt_at = DeadLetter.Status.PARKED, None
    else:
        letter.status = DeadLetter.Status.RETRYING
        letter.next_attempt_at = timezone.now() + retry_delay(letter.attempts)
    letter.save(using=using)
    logger.error(
        "Projection %s failed on event %s (position %d, attempt %d): %s",
        projection,
        event.event_id,
        event.position,
        letter.attempts,
        letter.error,
    )
