"""manage.py restore_stream <id>: bring one archived stream back into the log exactly as it was
(archive/restoring.py), e.g. for a dispute; it takes commands again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive.restoring import NotArchived, restore_stream


class Command(BaseCommand):
    help = "Restore one archived stream (an order id) from cold storage into the event log."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("stream_id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            count = restore_stream(options["stream_id"])
        except NotArchived as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"restored {options['stream_id']}: {count} events")
