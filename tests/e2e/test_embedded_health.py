"""The embedded default (SQLite, no broker) answers its probes too: the broker and beat are
"not configured" rather than failing, and lag is read from SQLite's log the same way."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from projector.loop import all_partitions
from projector.running import run_partition
from tests.factories import CreateOrderFactory
from writeside.bus import handle

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


def test_ready_on_the_embedded_default_reports_lag_and_ignores_the_absent_broker(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.EVENT_SUBSCRIBERS = []  # nothing projects after commit: the test does, after a lag
    settings.READY_MAX_LAG_SECONDS = 0.0  # any unapplied event is too old
    handle(CreateOrderFactory())
    lagging = Client().get("/health/ready")
    assert lagging.status_code == 503
    checks = lagging.json()["checks"]
    assert checks["database:default"]["state"] == "up"
    assert checks["broker"]["state"] == checks["beat"]["state"] == "not configured"
    assert checks["projection:orders"]["state"] == "stale"
    # A failing probe is an answer, not a server error to log (and send to Sentry) each time.
    assert not [record for record in caplog.records if record.name == "django.request"]

    for partition in all_partitions():
        run_partition(partition)
    assert Client().get("/health/ready").status_code == 200
