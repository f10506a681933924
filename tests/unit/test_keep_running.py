"""ops/keep-running, which `make up` runs every Procfile entry under: a process of the stack
that dies is started again by itself, and a stop (honcho's SIGTERM) stops it for good.

Real processes, no services: the command kept running is a Python process that sleeps.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEEP_RUNNING = ROOT / "ops" / "keep-running"
SLEEPER = [sys.executable, "-c", "import time; print('sleeping', flush=True); time.sleep(600)"]


def until(condition: Callable[[], bool], timeout: float = 20, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {message}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Kept:
    """ops/keep-running on a command, its output in a file, its children's pids as it logs them."""

    def __init__(self, command: list[str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(KEEP_RUNNING), *command],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # as honcho starts it
            )

    def children(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"started \S+ \(pid (\d+)\)", self.log.read_text())]


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[Kept]:
    kept = Kept(SLEEPER, tmp_path / "kept.log")
    yield kept
    if kept.process.poll() is None:  # the test failed before stopping it
        os.killpg(kept.process.pid, signal.SIGKILL)
        for child in kept.children():
            if alive(child):
                os.killpg(child, signal.SIGKILL)
        kept.process.wait(10)


def test_a_killed_process_is_started_again(kept: Kept) -> None:
    until(lambda: "sleeping" in kept.log.read_text(), message="the first start")
    [first] = kept.children()
    os.kill(first, signal.SIGKILL)
    until(lambda: len(kept.children()) == 2, message="the restart")
    second = kept.children()[1]
    until(lambda: kept.log.read_text().count("sleeping") == 2, message="the restarted process to run")
    assert alive(second)
    assert not alive(first)
    assert "exited with status 137" in kept.log.read_text()
    assert kept.process.poll() is None  # what honcho watches never exited: the stack stays up


def test_a_stop_stops_the_process_and_is_not_taken_for_a_crash(kept: Kept) -> None:
    until(lambda: "sleeping" in kept.log.read_text(), message="the first start")
    [child] = kept.children()
    os.killpg(kept.process.pid, signal.SIGTERM)  # honcho's shutdown: its group (the wrapper's)
    assert kept.process.wait(10) == 128 + signal.SIGTERM  # the command's own end, passed on
    until(lambda: not alive(child), timeout=10, message="the process to stop")
    assert len(kept.children()) == 1  # never started again


def test_every_process_of_the_procfile_runs_under_keep_running() -> None:
    entries = [line for line in (ROOT / "Procfile").read_text().splitlines() if re.match(r"^\w+:", line)]
    assert {line.split(":", 1)[0] for line in entries} >= {"web", "worker", "beat", "consumer"}
    for line in entries:
        assert line.split(":", 1)[1].split()[0] == "ops/keep-running", line
