"""Text a PostgreSQL row can hold: one rule for every boundary that lets text in.

PostgreSQL's text and jsonb refuse a NUL, and no UTF-8 can carry a lone surrogate (a JSON
`\\ud800` escape spells one). Text with either fails the statement that stores it, so every
boundary (the bus's audit, the inbound consumer, the domain's text rule) refuses it before
anything is written, with the place named, and they share this one definition of it.
"""

from __future__ import annotations

import re
from typing import Any

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_at(value: Any, path: str) -> str | None:
    """'<path>: contains ...' for the first string in a JSON value (objects and arrays walked,
    keys too, without recursion) that no row can hold; None if every one can."""
    pending = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            found = UNSTORABLE.search(item)
            if found is None:
                continue
            if found.group() == "\x00":
                return f"{where}: contains a NUL character"
            return f"{where}: contains a lone surrogate U+{ord(found.group()):04X}"
        if isinstance(item, dict):
            for key, nested in reversed(item.items()):
                pending.append((f"{where}.{key}", nested))
                pending.append((f"{where} (a key)", key))
        elif isinstance(item, list):
            pending.extend((f"{where}[{index}]", nested) for index, nested in reversed(list(enumerate(item))))
    return None


def storable(value: Any) -> Any:
    """`value` (a JSON value) with what no row can hold replaced by U+FFFD: for a record of
    something refused for it."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
