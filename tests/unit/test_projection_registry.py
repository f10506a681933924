"""settings.PROJECTIONS is checked when the engine loads it: a wrong entry is refused by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from eventlog.recorded import RecordedEvent
from projector.projection import Projection
from projector.registry import all_projections


class Quiet(Projection):
    name = "quiet"
    tables = ()

    def apply(self, events: Sequence[RecordedEvent], using: str) -> None:
        """Nothing to do."""


class Impostor(Quiet):
    name = "orders"


NOT_A_PROJECTION = "a string"


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([f"{__name__}.Quiet", f"{__name__}.Quiet"], "two projections are named 'quiet'"),
        (["readmodels.projections.orders.OrdersProjection", f"{__name__}.Impostor"], "two projections are named"),
        ([f"{__name__}.NOT_A_PROJECTION"], "is not a Projection"),
    ],
)
def test_a_misconfigured_list_is_refused_by_name(settings: Any, paths: list[str], message: str) -> None:
    settings.PROJECTIONS = paths
    with pytest.raises(ImproperlyConfigured, match=message):
        all_projections()
