"""`manage.py verify [--check NAME ...] [--projection NAME ...] [--wait SECONDS]`: the books,
checked (projector/verification.py). Prints every divergence and exits 1 if there is any,
0 if there is none."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projector.shadow import RebuildRunning
from projector.verification import Options, all_checks, verify


class Command(BaseCommand):
    help = (
        "Check the read models against the log, the relay, forgotten customers, the audit trail, and the"
        " books (stock, reservations, daily sales, refunds); exit 1 on any divergence."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check",
            action="append",
            default=[],
            help=f"a check to run (repeatable; all if none): {', '.join(all_checks())}",
        )
        parser.add_argument(
            "--projection",
            action="append",
            default=[],
            help="a projection the read-model check compares (all rebuildable if none)",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=60.0,
            help="seconds a check may wait for a live projection or the relay to reach the position it compares at",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the checks; exit 1 if anything diverges."""
        try:
            found = verify(
                options["check"], Options(projections=tuple(options["projection"]), wait_seconds=options["wait"])
            )
        except (KeyError, ValueError, RebuildRunning) as error:
            raise CommandError(error.args[0]) from None
        for divergence in found:
            self.stdout.write(str(divergence))
        if found:
            raise CommandError(f"{len(found)} divergence(s)", returncode=1)
        self.stdout.write(self.style.SUCCESS("The books verify: no divergence."))
