"""Readiness checks: each names what it probed and its state, and none ever raises.

A check answers within its bounds (DATABASE_CONNECT_TIMEOUT, the broker's connect timeout),
so a probe of a process whose dependencies are gone still answers 503 instead of hanging or
failing with a 500. The beat heartbeat is reported but does not fail readiness: a stopped
scheduler does not stop this web process from committing commands and answering queries,
and taking every web process out of the load balancer for it would turn a background fault
into a full outage. Its age is for alerting (ops/alerts.yml), lag is what readiness guards.
The same holds for the lag of a projection that does not feed what web processes serve (the
integration relay, `Projection.guards_readiness`): reported with `critical: false`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)

UP, DOWN, STALE, DISABLED = "up", "down", "stale", "not configured"


@dataclass(frozen=True, slots=True)
class Check:
    """One probed dependency: its name, its state, and whether it decides readiness."""

    name: str
    state: str
    critical: bool = True
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        return self.critical and self.state not in (UP, DISABLED)

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "critical": self.critical, **self.detail}


def _failure(name: str, error: BaseException, critical: bool = True) -> Check:
    logger.warning("Readiness check %s failed: %s: %s", name, type(error).__name__, error)
    return Check(name, DOWN, critical, {"error": type(error).__name__})


def database(alias: str) -> Check:
    """SELECT 1 on one configured database."""
    name = f"database:{alias}"
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:
        connections[alias].close_if_unusable_or_obsolete()
        return _failure(name, error)
    return Check(name, UP)


def broker() -> Check:
    """A connection to the Celery broker, when one is configured (none: projections run inline)."""
    if not settings.CELERY_BROKER_URL:
        return Check("broker", DISABLED)
    from celery import current_app as app  # config/celery.py's in every thread (Celery's Django fixup)

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=max(1, int(settings.READY_BROKER_TIMEOUT_SECONDS)))
    except Exception as error:
        return _failure("broker", error)
    return Check("broker", UP)


def projections() -> list[Check]:
    """Every projection's lag in seconds (its oldest unapplied event's age) against
    READY_MAX_LAG_SECONDS; critical only for those whose lag stops web processes serving."""
    from projector.registry import all_projections
    from projector.status import oldest_unapplied

    limit = float(settings.READY_MAX_LAG_SECONDS)
    try:
        oldest = oldest_unapplied()
    except Exception as error:
        return [_failure("projections", error)]
    now = timezone.now()
    registered = all_projections()
    checks = []
    for name, recorded_at in oldest.items():
        lag = (now - recorded_at).total_seconds() if recorded_at else 0.0
        projection = registered.get(name)
        checks.append(
            Check(
                f"projection:{name}",
                UP if lag <= limit else STALE,
                critical=projection is None or projection.guards_readiness,
                detail={"lag_seconds": round(lag, 3), "limit": limit},
            )
        )
    return checks


def beat_heartbeat() -> Check:
    """The age of the last heartbeat beat scheduled (monitoring.tasks); reported, not critical."""
    if not settings.CELERY_BROKER_URL:
        return Check("beat", DISABLED, critical=False)
    from monitoring.models import Heartbeat
    from monitoring.tasks import BEAT

    try:
        row = Heartbeat.objects.filter(name=BEAT).first()
    except Exception as error:
        return _failure("beat", error, critical=False)
    if row is None:
        return Check("beat", STALE, critical=False, detail={"age_seconds": None})
    age = (timezone.now() - row.beat_at).total_seconds()
    limit = float(settings.READY_MAX_HEARTBEAT_AGE_SECONDS)
    return Check("beat", UP if age <= limit else STALE, critical=False, detail={"age_seconds": round(age, 3)})


def readiness() -> list[Check]:
    """Databases first: when one is down, the checks that read it are not run again to fail slowly."""
    checks = [database(alias) for alias in settings.DATABASES]
    checks.append(broker())
    if all(check.state == UP for check in checks if check.name.startswith("database:")):
        checks.extend(projections())
        checks.append(beat_heartbeat())
    return checks
