"""`manage.py rebuild_projections [NAME ...]`: replay the event log into fresh read models,
showing each step (projector/rebuild.py) and the load's progress."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from projector.carried import CorruptCarriedRows
from projector.rebuild_progress import rebuild_by_name
from projector.registry import all_projections
from projector.shadow import RebuildRunning


class Command(BaseCommand):
    help = "Rebuild projections from the event log (all if no name is given), with progress."

    def add_arguments(self, parser: Any) -> None:
        rebuildable = [name for name, projection in all_projections().items() if projection.rebuildable]
        parser.add_argument("names", nargs="*", help=f"projections (all if none): {', '.join(rebuildable)}")
        parser.add_argument(
            "--from-archive-rows",
            action="store_true",
            help="restore the rows archived streams carry and replay only the hot log; a projection"
            " whose rows are not carried in its current format is replayed in full (docs/operations.md)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Rebuild each named projection, one progress bar each."""
        bars: dict[str, tqdm[Any]] = {}

        def progress(name: str, position: int, head: int) -> None:
            bar = bars.get(name)
            if bar is None:
                bar = bars[name] = tqdm(total=head, desc=name, unit="pos", file=self.stderr)
            if head and bar.total != head:
                bar.total = head
            bar.update(position - bar.n)

        def phase(step: str) -> None:
            self.stderr.write(f"rebuild: {step}")
            if step == "in place":
                # Said before the replay starts: blue/green needs the role that owns the tables.
                self.stderr.write(
                    "rebuild: live projection of the projections being rebuilt waits until this finishes"
                    " (SQLite, or a role that may not create tables: see docs/operations.md)"
                )

        try:
            heads = rebuild_by_name(
                options["names"], progress=progress, phase=phase, from_archive_rows=options["from_archive_rows"]
            )
        except (KeyError, ValueError, RebuildRunning, CorruptCarriedRows) as error:
            raise CommandError(error.args[0]) from None
        finally:
            for bar in bars.values():
                bar.close()
        for name, head in heads.items():
            self.stdout.write(self.style.SUCCESS(f"Rebuilt {name} up to position {head}"))
