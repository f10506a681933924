"""Coalescing doorbells: at most one pending ring per key.

A commit rings only if no ring for the same key is waiting in the queue; the worker
clears the mark *before* it reads the log, so a commit that found the mark set is read by
the waiting task, and a commit after the clear rings again. Under load this turns a
hundred rings a second for one partition into one task per round of work.

The mark lives in the shared cache (Redis). Without a shared cache every ring is sent, as
is the case when the cache is down: coalescing may only ever save work, never lose it. A
mark whose task was lost expires after DOORBELL_PENDING_SECONDS, and beat's catch-up
rings regardless of marks.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def should_ring(key: str) -> bool:
    """Mark a ring for `key` as pending; False if one already was (no need to ring)."""
    if not settings.DOORBELL_COALESCING:
        return True
    try:
        return bool(cache.add(f"doorbell:{key}", 1, timeout=float(settings.DOORBELL_PENDING_SECONDS)))
    except Exception as error:  # a cache outage must not cost a doorbell
        logger.warning("Doorbell cache unavailable (%s); ringing anyway", error)
        return True


def answering(key: str) -> None:
    """Clear the pending mark: called by the worker before it reads the log."""
    if not settings.DOORBELL_COALESCING:
        return
    try:
        cache.delete(f"doorbell:{key}")
    except Exception as error:
        logger.warning("Doorbell cache unavailable (%s); its mark expires on its own", error)


def ring_failed(key: str) -> None:
    """The ring could not be sent: clear the mark so the next commit tries again."""
    answering(key)
