"""`make bench-report` (bench/targets.py): each target judged on the newest report holding its
figure, a short run marked short, a missing figure shown as missing, never as met."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.targets import MET, MISSING, NOT_MET, TARGETS, evaluate, main


def _save(folder: Path, name: str, report: dict[str, Any]) -> None:
    (folder / name).write_text(json.dumps(report))


def _bench(**phases: Any) -> dict[str, Any]:
    machine = {"git_revision": "abc1234", "recorded_at": "2026-12-06T20:00:00+00:00", "load_average_1m": 1.0}
    return {"machine": machine, "orders": 2000, "phases": phases}


def _row(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(row for row in rows if row["target"] == name)


def test_every_target_has_a_row_and_none_is_met_without_a_figure(tmp_path: Path) -> None:
    rows = evaluate(tmp_path)

    assert [row["target"] for row in rows] == [target.name for target in TARGETS]
    assert {row["status"] for row in rows} == {MISSING}


def test_the_newest_report_holding_the_figure_is_judged(tmp_path: Path) -> None:
    project = {"events": 16_000, "events_per_s": 11_000.0, "orders_projection_events_per_s": 25_000.0}
    _save(tmp_path, "bench-20261206T100000Z.json", _bench(project=project))
    _save(tmp_path, "bench-20261206T110000Z.json", _bench(project={**project, "events_per_s": 13_000.0}))
    # The newest report ran other phases only: the project figures come from the one before.
    _save(tmp_path, "bench-20261206T120000Z.json", _bench(load={"ratio_p50": 2.5}))

    rows = evaluate(tmp_path)

    every = _row(rows, "project: events/s, all read models")
    assert (every["figure"], every["status"], every["report"]) == (13_000.0, MET, "bench-20261206T110000Z.json")
    assert not every["short"]
    assert _row(rows, "load: 10,000-event over 10-event order, p50")["status"] == NOT_MET


def test_a_figure_at_a_smaller_scale_is_judged_and_marked_short(tmp_path: Path) -> None:
    read = {"orders": 2000, "detail": {"p99_ms": 1.0}, "list_page": {"p99_ms": 12.0}, "search": {"p99_ms": 5.0}}
    _save(tmp_path, "bench-20261206T100000Z.json", _bench(read=read))

    rows = evaluate(tmp_path)

    detail, listing = _row(rows, "read: OrderDetail p99"), _row(rows, "read: list page p99")
    assert (detail["status"], detail["short"], detail["scale"]) == (MET, True, "2,000 orders")
    assert listing["status"] == NOT_MET


def test_peer_and_http_ratios_and_a_half_built_table(tmp_path: Path) -> None:
    medians = [
        {"figure": "write.commands_per_s", "ours_over_peer": 0.59},
        {"figure": "write.p99_ms", "ours_over_peer": 1.4},
        {"figure": "write2.commands_per_s", "ours_over_peer": 0.81},
    ]
    _save(tmp_path, "compare-20261206T100000Z.json", {"machine": {"ours": {}}, "orders": 2000, "medians": medians})
    http = {"product": {"errors": 0, "stale_reads": 1}, "crud": {"errors": 0, "stale_reads": 0}}
    _save(tmp_path, "http-compare-20261206T100000Z.json", {"ratio_requests_per_s": 0.62, "medians": http})
    live = {"events": 1_000_000, "p99_s": 0.07, "summary_rows_before": 250_000, "summary_rows_fewest_seen": 249_000}
    _save(tmp_path, "bench-20261206T100000Z.json", _bench(rebuild_live=live))

    rows = {row["target"]: row["status"] for row in evaluate(tmp_path)}

    assert rows["write: commands/s over the peer"] == NOT_MET
    assert rows["write: p99 over the peer's p99"] == MET
    assert rows["write2: commands/s over the peer"] == MET
    assert rows["HTTP: requests/s over plain DRF CRUD"] == MET
    assert rows["HTTP: errors + stale reads, both sides"] == NOT_MET
    assert rows["rebuild: commands visible within, p99"] == MET
    assert rows["rebuild: share of rows a reader saw"] == NOT_MET


def test_strict_fails_unless_every_target_is_met_and_a_broken_report_is_skipped(tmp_path: Path) -> None:
    _save(tmp_path, "bench-20261206T100000Z.json", _bench(load={"ratio_p50": 0.6}))
    (tmp_path / "bench-20261206T110000Z.json").write_text('{"machine": ')  # a run cut short

    assert _row(evaluate(tmp_path), "load: 10,000-event over 10-event order, p50")["status"] == MET
    assert main(["--results", str(tmp_path), "--json"]) == 0
    assert main(["--results", str(tmp_path), "--json", "--strict"]) == 1


def test_a_run_with_a_guarantee_switched_off_is_no_figure_of_the_product(tmp_path: Path) -> None:
    project = {"events": 16_000, "events_per_s": 30_000.0, "orders_projection_events_per_s": 40_000.0}
    # What `manage.py bench` under bench.settings saves (bench/guarantees.py): never judged.
    _save(tmp_path, "bench-without-audit-20261206T100000Z.json", _bench(project=project))

    assert _row(evaluate(tmp_path), "project: events/s, all read models")["status"] == MISSING
