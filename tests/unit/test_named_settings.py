"""What settings name by dotted path is imported once per path (eventlog/named.py), not again
for every command's event store, command log and subscribers; a setting changed at run time
still names its own object."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils.module_loading import import_string

from eventlog import named as named_module
from eventlog.idempotency import command_log
from eventlog.publishing import subscribers
from eventlog.store import event_store


def test_each_path_is_imported_once(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    imported: list[str] = []

    def counting(path: str) -> Any:
        imported.append(path)
        return import_string(path)

    monkeypatch.setattr(named_module, "import_string", counting)
    named_module.named.cache_clear()
    settings.EVENT_SUBSCRIBERS = ["telemetry.counters.count_appended"]
    for _ in range(3):
        event_store()
        command_log()
        subscribers()

    assert sorted(imported) == sorted([settings.EVENT_STORE, settings.COMMAND_LOG, "telemetry.counters.count_appended"])
    named_module.named.cache_clear()


def test_a_changed_setting_names_its_own_object(settings: Any) -> None:
    settings.EVENT_SUBSCRIBERS = ["telemetry.counters.count_appended"]
    first = subscribers()
    settings.EVENT_SUBSCRIBERS = ["projector.dispatch.on_events_committed"]

    assert [subscriber.__name__ for subscriber in (*first, *subscribers())] == [
        "count_appended",
        "on_events_committed",
    ]
