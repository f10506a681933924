"""The projections the engine runs are the ones settings.PROJECTIONS names, loaded by path."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import uuid4

import pytest

from eventlog.models import StoredEvent
from projector.loop import all_partitions
from projector.registry import all_projections
from projector.running import run_partition
from tests.factories import CreateOrderFactory
from tests.support.recording_subscribers import RecordingProjection
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HERE = __name__


class Recorder(RecordingProjection):
    """A consumer no package lists: only settings name it."""

    name = "recorder"
    seen: ClassVar[list[int]] = []


def test_a_projection_named_in_settings_is_run_and_the_others_are_not(settings: Any) -> None:
    settings.PROJECTIONS = [f"{HERE}.Recorder"]
    Recorder.seen.clear()
    handle(CreateOrderFactory(order_id=uuid4()))
    for partition in all_partitions():
        run_partition(partition)
    assert list(all_projections()) == ["recorder"]
    assert sorted(Recorder.seen) == list(StoredEvent.objects.order_by("position").values_list("position", flat=True))
