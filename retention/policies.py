"""The retention policies: what each store keeps (a setting, in days; 0 keeps forever), applied
in bounded batches until nothing past the policy is left.

Every run counts what it pruned (`backoffice_retention_pruned_total`, by policy) and logs one
line per policy that pruned anything. A run takes its cutoff once, at its start, so it ends
even while traffic adds rows; what it leaves (rows locked by a live transaction at that
moment) the next run takes. Runs may overlap (beat and an operator's `manage.py prune`): the
batches skip each other's rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from prometheus_client import Counter

from projector.loop import read_database
from retention import stores

logger = logging.getLogger(__name__)

PRUNED = Counter("backoffice_retention_pruned", "Rows removed (or emails blanked) by a retention policy.", ["policy"])

Batch = Callable[[str, datetime, int], int]


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """One store's retention: its setting, the database it lives on, and one batch of it."""

    name: str
    setting: str
    what: str  # as the log line says it
    database: Callable[[], str]
    batch: Batch

    def days(self) -> int:
        """The setting's days; 0 keeps everything."""
        return int(getattr(settings, self.setting))


def _eventlog_database() -> str:
    return str(settings.EVENTLOG_DATABASE)


POLICIES = {
    policy.name: policy
    for policy in (
        Policy(
            name="command-records",
            setting="IDEMPOTENCY_RETENTION_DAYS",
            what="command records expired",
            database=_eventlog_database,
            batch=stores.expire_command_records,
        ),
        Policy(
            name="audit",
            setting="AUDIT_RETENTION_DAYS",
            what="audit rows removed",
            database=_eventlog_database,
            batch=stores.prune_audit_rows,
        ),
        Policy(
            name="dead-letters",
            setting="DEAD_LETTER_RETENTION_DAYS",
            what="resolved dead letters removed",
            database=read_database,
            batch=stores.prune_resolved_dead_letters,
        ),
        Policy(
            name="notifications",
            setting="NOTIFICATION_PAYLOAD_RETENTION_DAYS",
            what="sent emails' recipients and subjects blanked",
            database=read_database,
            batch=stores.prune_notification_payloads,
        ),
    )
}


def apply(policy: Policy, now: datetime, batch_size: int) -> int:
    """Apply one policy until a batch comes back short; how many rows it pruned."""
    days = policy.days()
    if days <= 0:
        return 0
    cutoff, using, pruned = now - timedelta(days=days), policy.database(), 0
    while True:
        changed = policy.batch(using, cutoff, batch_size)
        pruned += changed
        PRUNED.labels(policy=policy.name).inc(changed)
        if changed < batch_size:
            break
    if pruned:
        logger.info(
            "Retention %s: %d %s (older than %d days, before %s)",
            policy.name,
            pruned,
            policy.what,
            days,
            cutoff.isoformat(timespec="seconds"),
        )
    return pruned


def prune(names: Iterable[str] = (), now: datetime | None = None, batch_size: int | None = None) -> dict[str, int]:
    """Apply the named policies (all if none); per policy, how many rows it pruned."""
    chosen = list(names) or list(POLICIES)
    unknown = sorted(set(chosen) - set(POLICIES))
    if unknown:
        raise ValueError(f"No retention policy {', '.join(unknown)} (there are {', '.join(POLICIES)})")
    moment = now or timezone.now()
    size = batch_size or int(settings.RETENTION_BATCH_SIZE)
    return {name: apply(POLICIES[name], moment, size) for name in chosen}
