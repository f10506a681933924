"""A process manager that sends commands is never rebuilt, not even by a direct call."""

from __future__ import annotations

import pytest

from fulfilment.manager import FulfilmentProcessManager
from projector.rebuild import rebuild


def test_rebuild_refuses_a_projection_that_sends_commands_before_touching_anything() -> None:
    with pytest.raises(ValueError, match="never rebuilt"):
        rebuild(FulfilmentProcessManager())
