"""What settings name by dotted path (the event store's and command log's classes, the event
subscribers), imported once per path: each command used to resolve three or four of them
again (docs/performance-log.md). Keyed by the path, so settings changed at run time (tests'
overrides) name what they name."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.utils.module_loading import import_string


@lru_cache(maxsize=128)
def named(path: str) -> Any:
    """The object `path` names ("package.module.attribute"), imported on first use."""
    return import_string(path)
