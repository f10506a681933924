"""manage.py carry_archived_rows: write the read-model rows of every archived order that carries
none in the current format (archived before rows were carried, or carried in an older format),
so that `rebuild_projections --from-archive-rows` restores them (archive/carried_rows.py); safe
to kill and run again at any point, and it never writes a segment."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from archive.carried_rows import carry_archived_rows
from eventlog.cold import CorruptSegment
from projector.carried import CorruptCarriedRows
from projector.shadow import RebuildRunning


class Command(BaseCommand):
    help = (
        "Carry the read-model rows of archived orders that carry none in the current format, for"
        " `rebuild_projections --from-archive-rows`."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            outcome = carry_archived_rows()
        except (RebuildRunning, CorruptSegment, CorruptCarriedRows, OSError) as error:  # OSError: a segment missing
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"carried the rows of {outcome.written} archived streams; {outcome.current} already carried them;"
            f" {outcome.passed_over} restored to the log meanwhile"
        )
