"""`manage.py projection_status`: position, head, lag and dead letters per projection."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from projector.status import projection_status


class Command(BaseCommand):
    help = "Show each projection's position, the log head, lag and dead letters."

    def handle(self, *args: Any, **options: Any) -> None:
        """Print one line per projection."""
        self.stdout.write(
            f"{'projection':<12} {'position':>9} {'head':>9} {'lag':>7} {'lag s':>7} "
            f"{'retry':>5} {'parked':>6} {'held':>5}"
        )
        for status in projection_status():
            self.stdout.write(
                f"{status.name:<12} {status.position:>9} {status.head:>9} {status.lag_events:>7} "
                f"{status.lag_seconds:>7.1f} {status.retrying:>5} {status.parked:>6} {status.held:>5}"
            )
