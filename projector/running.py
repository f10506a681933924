"""Ringing the doorbell for a partition, and answering it: the one way projections run."""

from __future__ import annotations

import logging
import time

from celery import current_app
from django.conf import settings

from projector import doorbell
from projector.loop import Projector, all_partitions, run_batch
from projector.registry import all_projections
from telemetry.counters import DOORBELLS

logger = logging.getLogger(__name__)

# The task projector.tasks defines under this name; sent by name, so the code a task runs
# never imports the task module (it imports this one).
PROJECT_PARTITION = "projector.project_partition"

# After a failed publish, skip publishing for a cooldown: every ring would otherwise stall
# its request for the client's connect-and-retry time while the broker is down, and the
# periodic catch-up delivers what the skipped doorbells would have.
_broker_down_until = 0.0


def run_partition(partition: int) -> bool:
    """Catch every projection up on one partition; True if a backlog remains.

    The projections whose checkpoints are free share each batch: one transaction, one
    read and decode of the log, one checkpoint update. A projection whose checkpoint is
    locked (a rebuild, or another worker on this partition) or not yet created, or one
    that must not share these events (`Projection.can_share`), is caught up on its own.
    """
    max_batches = int(settings.PROJECTION_MAX_BATCHES_PER_TASK)
    projections = all_projections()
    sharing = {name: projection for name, projection in projections.items() if projection.shares_batches}
    alone = set(projections) - set(sharing)
    more, batches = bool(sharing), 0
    while more and sharing and batches < max_batches:
        result = run_batch(partition, sharing, wait=False)
        more, alone = result.more, alone | result.skipped
        # A skipped checkpoint stays behind: the next shared batch must not read from it.
        sharing = {name: projection for name, projection in sharing.items() if name not in result.skipped}
        batches += 1
    backlog = more
    for name in sorted(alone):
        projection = projections[name]
        try:
            backlog |= Projector(projection).catch_up(partition, max_batches=max_batches).more
        except projection.transient_errors as error:
            # Its checkpoint stayed; beat's catch-up rings again. Not a backlog: ringing at
            # once would spin against a service that is down.
            logger.warning("%s[%d] waits for a service: %s", name, partition, error)
    return backlog


def partition_key(partition: int) -> str:
    """The doorbell key of a partition on the queue tasks go to (see projector.doorbell):
    a ring waiting in one queue says nothing about another."""
    return f"{current_app.conf.task_default_queue}:partition:{partition}"


def ring(partition: int, *, always: bool = False) -> None:
    """Ask a worker to project a partition, unless a ring for it is already waiting (or
    `always`). A broker failure is logged, never raised: the periodic catch-up reads the
    log and projects what this doorbell would have."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        DOORBELLS.labels(outcome="skipped").inc()
        return
    key = partition_key(partition)
    if not (doorbell.should_ring(key) or always):
        DOORBELLS.labels(outcome="coalesced").inc()
        return
    try:
        current_app.send_task(PROJECT_PARTITION, (partition,), retry=False)
        DOORBELLS.labels(outcome="sent").inc()
    except Exception as error:
        DOORBELLS.labels(outcome="failed").inc()
        doorbell.ring_failed(key)
        _broker_down_until = time.monotonic() + float(settings.BROKER_FAILURE_COOLDOWN_SECONDS)
        logger.warning("Could not enqueue projection of partition %d (%s); catch-up will do it", partition, error)


def catch_up_everything() -> None:
    """Ring every partition (whatever is pending) and retry dead letters whose backoff has elapsed."""
    for partition in all_partitions():
        ring(partition, always=True)
    for projection in all_projections().values():
        Projector(projection).retry_due()
