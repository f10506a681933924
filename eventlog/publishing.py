"""Handing committed events to subscribers, only after the transaction that wrote them commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from django.conf import settings
from django.db import transaction

from eventlog.named import named
from eventlog.recorded import RecordedEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[[Sequence[RecordedEvent]], None]


def subscribers() -> list[Subscriber]:
    """The callables named by settings.EVENT_SUBSCRIBERS, in order."""
    return [named(path) for path in settings.EVENT_SUBSCRIBERS]


def notify(events: Sequence[RecordedEvent]) -> None:
    """Call every subscriber; one that fails is logged and does not stop the others."""
    for subscriber in subscribers():
        try:
            subscriber(events)
        except Exception:
            logger.exception(
                "Event subscriber %s failed for events %s",
                getattr(subscriber, "__qualname__", subscriber),
                ", ".join(str(event.event_id) for event in events),
            )


def publish_after_commit(events: Sequence[RecordedEvent], using: str | None = None) -> None:
    """Schedule `notify(events)` for when the current transaction commits; never before."""
    if events:
        transaction.on_commit(partial(notify, list(events)), using=using or settings.EVENTLOG_DATABASE, robust=True)
