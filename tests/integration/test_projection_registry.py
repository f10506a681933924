"""The projections the engine runs are the ones settings.PROJECTIONS names, loaded by path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import uuid4

import pytest

from eventlog.models import StoredEvent
from eventlog.store import RecordedEvent
from projector.loop import all_partitions
from projector.projection import Projection
from projector.registry import all_projections
from projector.running import run_partition
from tests.factories import CreateOrderFactory
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HERE = __name__


class Recorder(Projection):
    """A consumer no package lists: only settings name it."""

    name = "recorder"
    tables = ()
    seen: ClassVar[list[int]] = []

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        Recorder.seen.extend(event.position for event in events)


def test_a_projection_named_in_settings_is_run_and_the_others_are_not(settings: Any) -> None:
    settings.PROJECTIONS = [f"{HERE}.Recorder"]
    Recorder.seen.clear()
    handle(CreateOrderFactory(order_id=uuid4()))
    for partition in all_partitions():
        run_partition(partition)
    assert list(all_projections()) == ["recorder"]
    assert sorted(Recorder.seen) == list(StoredEvent.objects.order_by("position").values_list("position", flat=True))
