"""The base of every domain event, and the text rule events of every context share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kernel.errors import InvalidValue
from kernel.storable import UNSTORABLE


def check_text(name: str, value: str, max_length: int = 255) -> None:
    """Raise InvalidValue unless `value` is 1 to `max_length` characters, not blank, and text
    a row can hold (no NUL, no lone surrogate: kernel/storable.py)."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length or UNSTORABLE.search(value):
        raise InvalidValue(name, f"must be 1 to {max_length} characters, not blank, without NUL")


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event; `schema_version` says which shape of the data this class reads.

    An event carrying personal data names its fields (dotted paths into its data) in
    `personal_fields` and the field saying whose they are in `data_subject`: the event log
    stores those values only sealed with that subject's key (docs/architecture.md,
    "Personal data"), and they read as None once the subject is forgotten.
    """

    schema_version: ClassVar[int] = 1
    personal_fields: ClassVar[tuple[str, ...]] = ()
    data_subject: ClassVar[str] = ""
