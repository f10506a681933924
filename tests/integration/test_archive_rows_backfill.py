"""The fast path opens each rows file once (counted, not timed, as
tests/integration/test_whole_log.py counts segment openings)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from archive.procedure import archive_due
from eventlog import cold
from tests.integration.test_archive_rows import LATER, delivered_order, rebuilt
from tests.support.workload import drive_orders

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]
ARCHIVED = 4


def archived_shop() -> None:
    """Hot orders, ARCHIVED archived ones, and one delivered too late to be archived."""
    drive_orders(6, seed=7)
    for n in range(ARCHIVED):
        delivered_order(f"c-backfill-{n}")
    assert len(archive_due(now=timezone.now() + LATER).archived) == ARCHIVED
    delivered_order("c-backfill-hot")


def rows_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.rows.gz"))


def test_the_fast_rebuild_opens_each_rows_file_once(cold_storage: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archived_shop()
    full, _ = rebuilt()
    opened: Counter[str] = Counter()
    storage = cold.archive_storage()
    original = storage.open

    def counted(name: str, mode: str = "rb") -> Any:
        opened[name] += 1
        return original(name, mode)

    monkeypatch.setattr(storage, "open", counted)
    fast, steps = rebuilt("--from-archive-rows")
    assert "in full" not in steps
    assert fast == full
    rows = {name: count for name, count in opened.items() if name.endswith(".rows.gz")}
    assert len(rows) == ARCHIVED
    assert set(rows.values()) == {1}
