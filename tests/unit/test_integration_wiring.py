"""Without an integration broker (the embedded default) there is no relay to run or lag.

The rule lives in config/settings.py (PROJECTIONS gains the relay when INTEGRATION_BROKER_URL
is set), so each test evaluates the settings module afresh under the environment it names
and loads what the engine would load from it.
"""

from __future__ import annotations

import runpy
from typing import Any

import pytest

import config.settings
from projector.registry import all_projections


def projections_under(monkeypatch: pytest.MonkeyPatch, settings: Any, broker_url: str) -> list[str]:
    """The projection names the engine runs when the process starts with `broker_url`."""
    monkeypatch.setenv("INTEGRATION_BROKER_URL", broker_url)
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    settings.PROJECTIONS = runpy.run_path(config.settings.__file__)["PROJECTIONS"]
    return list(all_projections())


def test_no_broker_means_no_relay(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    assert "relay" not in projections_under(monkeypatch, settings, "")


def test_a_configured_broker_adds_the_relay_after_the_read_models(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    assert projections_under(monkeypatch, settings, "amqp://guest:guest@127.0.0.1:5672//")[-1] == "relay"


def test_the_published_language_has_a_rule_for_every_recorded_event_type() -> None:
    """An event type the mapping does not know parks the relay's stream in dead letters, so a
    new event (an address change, a forgotten customer) must be published or named unpublished."""
    from eventlog.serialization import registry
    from integration.mapping import KNOWN

    unknown = {cls.__name__ for cls in registry.event_classes()} - {cls.__name__ for cls in KNOWN}
    assert unknown == set()
