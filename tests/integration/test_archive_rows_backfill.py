"""Orders archived before rows were carried, or carried in an older format, send their
projections to full replay; `manage.py carry_archived_rows` carries them (archive/carried_rows.py),
killable and re-runnable, without touching a segment, and the next `--from-archive-rows`
rebuild restores them and gives the full replay's tables. The fast path opens each rows file
once (counted, not timed, as tests/integration/test_whole_log.py counts segment openings).
On SQLite a backfill waits for a running rebuild's write transaction, or stops saying so."""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from archive import carried_rows
from config.sqlite.base import writers_waiting
from eventlog import cold
from projector.loop import read_database
from projector.rebuild_progress import rebuild_by_name
from tests.support.carried_rows import ARCHIVED, archived_shop, rebuilt, rows_files
from tests.support.concurrency import in_thread
from tests.support.read_side import ON_BOTH_DATABASES
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("cold_storage")]


def aged(path: Path, projection: str) -> None:
    """Rewrite a rows file as an older release would have carried `projection`: another format
    in a header that is otherwise whole (the body and its checksum unchanged)."""
    header, body = gzip.decompress(path.read_bytes()).split(b"\n", 1)
    fields = json.loads(header)
    fields["formats"][projection] = {"carry_version": 0}
    path.write_bytes(gzip.compress(json.dumps(fields).encode() + b"\n" + body))


def segment_bytes(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(root.rglob("*.seg.gz"))}


def backfill() -> str:
    out = StringIO()
    call_command("carry_archived_rows", stdout=out)
    return out.getvalue()


@ON_BOTH_DATABASES
def test_orders_archived_without_current_rows_fall_back_until_the_backfill_carries_them(
    vendor: str, cold_storage: Path
) -> None:
    assert connection.vendor == vendor
    archived_shop()
    full, _ = rebuilt()
    files = rows_files(cold_storage)
    assert len(files) == ARCHIVED
    files[0].unlink()  # archived before rows were carried
    aged(files[2], "sales")  # carried by an older release
    fast, steps = rebuilt("--from-archive-rows")
    assert "replaying orders in full" in steps
    assert "replaying sales in full" in steps
    assert fast == full
    before = segment_bytes(cold_storage)
    assert "carried the rows of 2 archived streams; 2 already carried them" in backfill()
    assert segment_bytes(cold_storage) == before  # the segments untouched
    fast, steps = rebuilt("--from-archive-rows")
    assert "restoring archived rows" in steps
    assert "in full" not in steps
    assert fast == full
    assert f"carried the rows of 0 archived streams; {ARCHIVED} already carried them" in backfill()


@pytest.mark.postgres
def test_a_backfill_killed_midway_and_a_file_cut_short_are_finished_by_the_next_run(cold_storage: Path) -> None:
    archived_shop()
    full, _ = rebuilt()
    for path in rows_files(cold_storage):
        path.unlink()

    class Killed(BaseException):
        pass

    def kill(_stream: str) -> None:
        raise Killed

    with pytest.raises(Killed):
        carried_rows.carry_archived_rows(step=kill)
    (written,) = rows_files(cold_storage)  # killed after its first file, before the others
    blob = written.read_bytes()
    written.write_bytes(blob[: len(blob) // 2])  # as if killed while writing it
    # A file cut short stops the fast rebuild (its header reads, its body does not) ...
    with pytest.raises(CommandError, match=r"unreadable|checksum"):
        call_command("rebuild_projections", "--from-archive-rows", verbosity=0, stderr=StringIO())
    # ... until the backfill, run again, finds it and writes it whole with the others.
    assert f"carried the rows of {ARCHIVED} archived streams; 0 already carried them" in backfill()
    fast, steps = rebuilt("--from-archive-rows")
    assert "in full" not in steps
    assert fast == full


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


@pytest.mark.postgres
@pytest.mark.parametrize("damaged_part", ["header", "body"])
def test_a_rows_file_with_damaged_compressed_data_falls_back_or_stops_clearly_and_the_backfill_rewrites_it(
    cold_storage: Path, damaged_part: str
) -> None:
    archived_shop()
    full, _ = rebuilt()
    damaged = rows_files(cold_storage)[0]
    blob = bytearray(damaged.read_bytes())
    # The deflate stream itself (not only what it decodes to): near its start the header line's
    # data, near its end the body's (the last 8 bytes are gzip's CRC and length).
    for index in range(20, 50) if damaged_part == "header" else range(len(blob) - 40, len(blob) - 12):
        blob[index] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    if damaged_part == "header":
        fast, steps = rebuilt("--from-archive-rows")  # as if it carried nothing: full replay
        assert "replaying orders in full" in steps
        assert fast == full
    else:
        with pytest.raises(CommandError, match="the rows carried with"):
            call_command("rebuild_projections", "--from-archive-rows", verbosity=0, stderr=StringIO())
    assert "carried the rows of 1 archived streams" in backfill()
    fast, steps = rebuilt("--from-archive-rows")
    assert "replaying" not in steps
    assert fast == full


@pytest.mark.embedded
def test_on_sqlite_the_backfill_waits_for_a_running_rebuild_or_stops_saying_so(
    cold_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archived_shop()
    for path in rows_files(cold_storage):
        path.unlink()
    using = read_database()
    inside, go = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def paused(_name: str, _position: int, _head: int) -> None:
        inside.set()  # within the rebuild's write transaction, after its first batch
        go.wait(60)

    rebuilding = in_thread(lambda: rebuild_by_name(["orders"], progress=paused), failures)
    backfilling: threading.Thread | None = None
    try:
        assert inside.wait(30), failures
        # Waiting no longer than a short timeout, the backfill stops and says why.
        monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.5)
        with pytest.raises(CommandError, match="a rebuild is most likely running"):
            backfill()
        assert rows_files(cold_storage) == []
        monkeypatch.undo()
        # With the default timeout it waits in line for the rebuild to commit, writing nothing.
        backfilling = in_thread(carried_rows.carry_archived_rows, failures)
        eventually(lambda: writers_waiting(str(connections[using].settings_dict["NAME"])) == 1, 10, "backfill in line")
        assert rows_files(cold_storage) == []
    finally:
        go.set()
        rebuilding.join(60)
        if backfilling is not None:
            backfilling.join(60)
    assert failures == []
    assert len(rows_files(cold_storage)) == ARCHIVED
