"""The archiver's Celery task, for beat (off unless ARCHIVE_INTERVAL_SECONDS is set). Its worker
must connect with the archiver's role: route `archive.archive_streams` to a queue only that
worker consumes (docs/operations.md)."""

from __future__ import annotations

from celery import shared_task

from archive.procedure import archive_due


@shared_task(name="archive.archive_streams")
def archive_streams() -> int:
    """Archive what is due now; returns how many streams moved."""
    return len(archive_due().archived)
