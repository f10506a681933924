"""`manage.py dead_letters [list|retry|skip]`: inspect and resolve events projections failed on."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projector.dead_letters import SkipRefused
from projector.loop import Projector, read_database
from projector.models import DeadLetter
from projector.registry import all_projections


class Command(BaseCommand):
    help = "List dead letters, or retry/skip the failing event of a blocked stream."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["list", "retry", "skip"])
        parser.add_argument("--projection", help="projection name (required for retry/skip)")
        parser.add_argument("--stream", help="stream (order) id (required for retry/skip)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the chosen action."""
        if options["action"] == "list":
            letters = DeadLetter.objects.using(read_database()).exclude(
                status__in=[DeadLetter.Status.RESOLVED, DeadLetter.Status.SKIPPED]
            )
            for letter in letters:
                self.stdout.write(
                    f"{letter.projection:<10} #{letter.position:<8} {letter.status:<9} {letter.attempts:>2}x "
                    f"{letter.event_type:<18} {letter.stream_id}  {letter.error}"
                )
            return
        name, stream = options["projection"], options["stream"]
        projections = all_projections()
        if name not in projections or not stream:
            raise CommandError(f"--projection (one of {', '.join(projections)}) and --stream are required")
        try:
            unblocked = Projector(projections[name]).retry_stream(stream, skip_first=options["action"] == "skip")
        except SkipRefused as error:
            raise CommandError(str(error)) from None
        if unblocked:
            self.stdout.write(self.style.SUCCESS(f"Stream {stream} is unblocked in {name}"))
        else:
            failing = (
                DeadLetter.objects.using(read_database())
                .filter(
                    projection=name, stream_id=stream, status__in=[DeadLetter.Status.RETRYING, DeadLetter.Status.PARKED]
                )
                .first()
            )
            raise CommandError(f"Still failing: {failing.error if failing else 'unknown'}")
