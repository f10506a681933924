"""Waiting with a deadline: poll a condition until it holds, failing the test (never hanging it)
when the deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest


def eventually(
    condition: Callable[[], bool], timeout: float = 30, message: str = "condition", log: Path | None = None
) -> None:
    """Poll `condition` until it holds, failing the test at the deadline (with a log's tail)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            pytest.fail(f"Timed out after {timeout}s waiting for {message}\n{tail}")
        time.sleep(0.05)
