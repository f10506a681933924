"""The event store and command log implementations are the classes settings name: the base
module never imports its PostgreSQL subclass to choose it (import contract in pyproject.toml)."""

from __future__ import annotations

from django.test import override_settings

from eventlog.idempotency import CommandLog, command_log
from eventlog.store import EventStore, event_store


class NamedStore(EventStore):
    """A store class only this test names."""


class NamedCommandLog(CommandLog):
    """A command log class only this test names."""


@override_settings(EVENT_STORE=f"{__name__}.NamedStore", COMMAND_LOG=f"{__name__}.NamedCommandLog")
def test_the_store_and_command_log_are_the_classes_the_settings_name() -> None:
    store, log = event_store("default"), command_log("default")

    assert type(store) is NamedStore
    assert store.using == "default"
    assert type(log) is NamedCommandLog
    assert log.using == "default"
