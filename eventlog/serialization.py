"""Turning domain events and states into JSON data and back, upcasting old schemas on read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(LookupError):
    """The log holds an event type no registered class reads."""


class EventRegistry:
    """Maps stored event type names to classes and old schema versions to upcasters."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Any]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, *classes: type[Any]) -> None:
        """Make event classes readable and writable under their class name."""
        for cls in classes:
            self._classes[cls.__name__] = cls

    def event_classes(self) -> tuple[type[Any], ...]:
        """Every registered event class (what a subscriber must know how to treat)."""
        return tuple(self._classes.values())

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: register a function turning `from_version` data into `from_version + 1`."""

        def decorate(function: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = function
            return function

        return decorate

    def event_class(self, event_type: str) -> type[Any]:
        """The class registered for a stored type name."""
        try:
            return self._classes[event_type]
        except KeyError:
            raise UnknownEventType(f"No event class registered for {event_type!r}") from None

    def encode(self, event: Any) -> tuple[str, int, dict[str, Any]]:
        """(event_type, schema_version, data) to store for a domain event."""
        cls = type(event)
        if self._classes.get(cls.__name__) is not cls:
            raise UnknownEventType(f"{cls.__name__} is not registered")
        data: dict[str, Any] = msgspec.to_builtins(event)
        return cls.__name__, int(getattr(cls, "schema_version", 1)), data

    def upcast(self, event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Data in the current schema of `event_type`, applying upcasters in sequence."""
        current = int(getattr(self.event_class(event_type), "schema_version", 1))
        while schema_version < current:
            try:
                step = self._upcasters[(event_type, schema_version)]
            except KeyError:
                raise UnknownEventType(f"No upcaster for {event_type} from schema version {schema_version}") from None
            data = step(dict(data))
            schema_version += 1
        return data

    def decode(self, event_type: str, schema_version: int, data: dict[str, Any]) -> Any:
        """The domain event for stored data, in the current schema."""
        cls = self.event_class(event_type)
        return msgspec.convert(self.upcast(event_type, schema_version, data), cls)


def to_data(value: Any) -> Any:
    """JSON-ready builtins for a dataclass state (Decimal and UUID become strings)."""
    return msgspec.to_builtins(value)


def from_data(data: Any, cls: type[T]) -> T:
    """Rebuild a dataclass state from `to_data` output."""
    return msgspec.convert(data, cls)


# The one registry of this process; each domain app registers its events in AppConfig.ready.
registry = EventRegistry()
