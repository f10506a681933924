"""`manage.py prune [policy ...]`: apply the retention policies now (beat runs them too)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retention.policies import POLICIES, prune


class Command(BaseCommand):
    help = "Prune what the retention policies (settings, in days) no longer keep; never the event log."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("policies", nargs="*", help=f"policies (all if none): {', '.join(POLICIES)}")
        parser.add_argument("--batch-size", type=int, help="rows per transaction (RETENTION_BATCH_SIZE)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Apply the chosen policies and say what each pruned."""
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            pruned = prune(options["policies"], batch_size=options["batch_size"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        for name, count in pruned.items():
            policy = POLICIES[name]
            days = policy.days()
            kept = f"older than {days} days" if days else f"kept forever ({policy.setting}=0)"
            self.stdout.write(f"{name:<16} {count:>8}  {kept}")
