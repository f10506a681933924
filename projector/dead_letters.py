"""Dead letters: an event a projection failed on, and the events of its stream held behind it.

A failing event is retried with backoff (attempts counted in the database, so a worker that
dies mid-task cannot loop it), then parked until an operator retries or skips it. Until it
resolves, later events of its stream are recorded as held: per-stream order is never broken,
and every other stream moves on.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from eventlog.store import RecordedEvent
from projector.models import DeadLetter

logger = logging.getLogger(__name__)

BLOCKING = (DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED, DeadLetter.Status.HELD)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter before the next automatic attempt."""
    base = float(settings.PROJECTION_RETRY_BASE_SECONDS) * 2 ** (attempts - 1)
    return timedelta(seconds=base * random.uniform(0.5, 1.5))


def blocked_streams(names: Iterable[str], events: Sequence[RecordedEvent], using: str) -> dict[str, set[str]]:
    """Per projection, the streams of `events` held behind a dead letter."""
    blocked: dict[str, set[str]] = {}
    if not events:
        return blocked
    rows = DeadLetter.objects.using(using).filter(
        projection__in=list(names), stream_id__any={event.stream_id for event in events}, status__in=BLOCKING
    )
    for projection, stream_id in rows.values_list("projection", "stream_id"):
        blocked.setdefault(projection, set()).add(stream_id)
    return blocked


def hold(projection: str, events: Sequence[RecordedEvent], using: str) -> None:
    """Record `events` as held behind their stream's dead letter (once each)."""
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
    """Count a failed attempt at `event`: retry later with backoff, or park it for good."""
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
