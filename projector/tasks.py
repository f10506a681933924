"""Celery tasks: thin entry points into projector.running and projector.rebuild_progress.

Each task is named by the package that owns it (`projector.*`) and answers its former name
(`readmodels.*`) as well, so messages queued before the rename still run after it."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from projector import doorbell
from projector.rebuild_progress import rebuild_by_name
from projector.running import PROJECT_PARTITION, catch_up_everything, partition_key, ring, run_partition

logger = logging.getLogger(__name__)
PARTITION_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 10,
}
CATCH_UP = "projector.catch_up"
REBUILD = "projector.rebuild"
# The names these tasks had before they were named by their package: a worker of this
# release still runs what an older release (or beat's old schedule) queued under them.
FORMER_NAMES = {
    PROJECT_PARTITION: "readmodels.project_partition",
    CATCH_UP: "readmodels.catch_up",
    REBUILD: "readmodels.rebuild",
}


@shared_task(name=PROJECT_PARTITION, **PARTITION_OPTIONS)
def project_partition(partition: int) -> None:
    """Doorbell: project what is new in the log for one partition; ring again on backlog."""
    doorbell.answering(partition_key(partition))  # before reading: later commits ring anew
    if run_partition(partition):
        ring(partition)


@shared_task(name=CATCH_UP, acks_late=True)
def catch_up() -> None:
    """Periodic (beat): ring every partition and retry due dead letters."""
    catch_up_everything()


@shared_task(name=REBUILD, acks_late=False)
def rebuild(names: list[str], from_archive_rows: bool = False) -> None:
    """Rebuild projections from the event log (admin's rebuild button), or from the rows
    archived streams carry; each step in the worker's log as well as on the admin's page.

    Queue it with `queue_rebuild`, never `rebuild.delay` with every keyword: during a rolling
    deploy an older worker, whose function lacks a newer keyword, takes the message too. So a
    keyword added here keeps a default that does what the older release did, and the sender
    puts it in the message only when it is not that default (a default rebuild's message is
    exactly what every older worker accepts; only the new choice needs the new release)."""
    rebuild_by_name(
        names,
        phase=lambda step: logger.info("rebuild %s: %s", ", ".join(names) or "all", step),
        from_archive_rows=from_archive_rows,
    )


def queue_rebuild(names: list[str], *, from_archive_rows: bool = False) -> None:
    """Queue `rebuild` with only the keywords that differ from their defaults (its docstring
    says why: an older worker in a rolling deploy must accept a default rebuild's message)."""
    chosen: dict[str, Any] = {}
    if from_archive_rows:
        chosen["from_archive_rows"] = True
    rebuild.apply_async((names,), chosen)


@shared_task(name=FORMER_NAMES[PROJECT_PARTITION], **PARTITION_OPTIONS)
def project_partition_formerly(partition: int) -> None:
    """project_partition under its former name."""
    project_partition(partition)


@shared_task(name=FORMER_NAMES[CATCH_UP], acks_late=True)
def catch_up_formerly() -> None:
    """catch_up under its former name."""
    catch_up()


@shared_task(name=FORMER_NAMES[REBUILD], acks_late=False)
def rebuild_formerly(names: list[str], from_archive_rows: bool = False) -> None:
    """rebuild under its former name."""
    rebuild(names, from_archive_rows)
