"""The short chaos soak inside `make test`: every kind of fault at least once, then the books.

It runs the soak as `make soak` does (tests/soak/run.py), for a minute and a half of faults:
the stack is `make up` on services of its own behind proxies the soak cuts, so what this
proves is the configuration users run. The long run (`make soak`, SOAK_MINUTES) and its
figures are in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_the_stack_heals_itself_and_the_books_hold_after_every_kind_of_fault(tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.soak.run", "--minutes", "1.5", "--seed", "7", "--report", str(report_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert report_path.exists(), f"the soak wrote no report:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    report = json.loads(report_path.read_text())
    kinds = {fault["fault"] for fault in report["faults"]}
    assert len(kinds) == 9, f"not every kind of fault was injected: {sorted(kinds)}"
    log = report_path.with_suffix(".log")
    tail = log.read_text(errors="replace")[-6000:] if log.exists() else ""
    assert report["failures"] == [], f"{json.dumps(report, indent=1)}\n--- stack log (tail) ---\n{tail}"
    assert result.returncode == 0
