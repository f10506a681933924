"""Without an integration broker (the embedded default) there is no relay to run or lag."""

from __future__ import annotations

from typing import Any

from readmodels.projections import all_projections


def test_no_broker_means_no_relay(settings: Any) -> None:
    settings.INTEGRATION_BROKER_URL = ""
    assert "relay" not in all_projections()


def test_a_configured_broker_adds_the_relay_after_the_read_models(settings: Any) -> None:
    settings.INTEGRATION_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    assert list(all_projections())[-1] == "relay"
