"""A rebuild as an operator asks for it: projections by name (all rebuildable ones if none),
refused before it starts for an unknown name or a process manager, its progress and phase
published in the cache under each projection's `progress_key` for the hour after, so every
process (the admin's projections page beside a worker's rebuild) sees how far it is, whether
it ended and how (a failure's error included, so no page shows a failed rebuild running).
The rebuild itself is projector/rebuild.py's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from projector import shadow
from projector.rebuild import Phase, rebuild_together, refuse_process_managers
from projector.registry import all_projections


def progress_key(name: str) -> str:
    """Cache key under which a running rebuild reports its progress."""
    return f"readmodels:rebuild:{name}"


def rebuild_by_name(
    names: Iterable[str],
    progress: Callable[[str, int, int], None] | None = None,
    phase: Phase | None = None,
    *,
    from_archive_rows: bool = False,
) -> dict[str, int]:
    """Rebuild the named projections (all rebuildable ones if none) in one pass, reporting
    progress and phase to the cache (with, from archive rows, each projection replayed in full
    and why; and the error of a rebuild that failed, so no page shows it running for the hour
    its progress is kept); KeyError for an unknown name, ValueError for a process manager,
    shadow.RebuildRunning if another rebuild runs, CorruptCarriedRows for a damaged rows file."""
    projections = all_projections()
    selected = list(names) or [name for name, projection in projections.items() if projection.rebuildable]
    unknown = sorted(set(selected) - set(projections))
    if unknown:
        raise KeyError(f"Unknown projection(s): {', '.join(unknown)}; known: {', '.join(projections)}")
    refuse_process_managers(projections[name] for name in selected)  # before reporting a start
    state: dict[str, Any] = {
        "position": 0,
        "head": 0,
        "started_at": timezone.now().isoformat(),
        "phase": "starting",
        "from_archive_rows": from_archive_rows,
        "in_full": [],
    }

    def publish() -> None:
        for name in selected:
            cache.set(progress_key(name), state, 3600)

    def report(position: int, head: int) -> None:
        state.update(position=position, head=head)
        publish()
        for name in selected:
            if progress is not None:
                progress(name, position, head)

    def step(name: str) -> None:
        state["phase"] = name
        if name.startswith("replaying "):
            state["in_full"] = [*state["in_full"], name.removeprefix("replaying ")]
        publish()
        if phase is not None:
            phase(name)

    publish()
    try:
        head = rebuild_together(
            [projections[name] for name in selected], progress=report, phase=step, from_archive_rows=from_archive_rows
        )
    except shadow.RebuildRunning:
        raise  # the progress shown is the running rebuild's
    except Exception as error:
        state.update(failed=str(error), finished_at=timezone.now().isoformat())
        publish()
        raise
    state.update(position=head, head=head, finished_at=timezone.now().isoformat())
    publish()
    return dict.fromkeys(selected, head)
