"""Celery tasks: thin entry points into projector.running and projector.rebuild."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from projector import doorbell
from projector.rebuild import rebuild_by_name
from projector.running import PROJECT_PARTITION, catch_up_everything, partition_key, ring, run_partition


@shared_task(
    name=PROJECT_PARTITION,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=10,
)
def project_partition(partition: int) -> None:
    """Doorbell: project what is new in the log for one partition; ring again on backlog."""
    doorbell.answering(partition_key(partition))  # before reading: later commits ring anew
    if run_partition(partition):
        ring(partition)


@shared_task(name="readmodels.catch_up", acks_late=True)
def catch_up() -> None:
    """Periodic (beat): ring every partition and retry due dead letters."""
    catch_up_everything()


@shared_task(name="readmodels.rebuild", acks_late=False)
def rebuild(names: list[str]) -> None:
    """Rebuild projections from the event log (admin's rebuild button)."""
    rebuild_by_name(names)
