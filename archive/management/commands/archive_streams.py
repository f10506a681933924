"""manage.py archive_streams: move the closed order streams due now to cold storage
(archive/procedure.py); safe to kill and run again at any point."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from archive.procedure import archive_due


class Command(BaseCommand):
    help = "Archive order streams closed longer than ARCHIVE_AFTER_DAYS to cold storage (segments, manifest)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="At most this many streams in this run.")

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = archive_due(limit=options["limit"])
        self.stdout.write(f"archived {len(outcome.archived)} streams ({outcome.events} events)")
        for stream_id, reason in outcome.skipped.items():
            self.stdout.write(f"kept {stream_id}: {reason}")
