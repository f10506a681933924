"""Configuration checks of the write side: a limit the domain would refuse is reported by
`manage.py check` (and so by every management command and runserver) at start, not as a
500 on the first command that loads an order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from orders.domain import LIFECYCLE_EVENTS


@register()
def events_per_order_leave_room_for_the_lifecycle(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """MAX_EVENTS_PER_ORDER must hold an order's creation and its whole lifecycle."""
    limit = settings.MAX_EVENTS_PER_ORDER
    if isinstance(limit, int) and limit > LIFECYCLE_EVENTS:
        return []
    return [
        Error(
            f"MAX_EVENTS_PER_ORDER is {limit!r}; an order needs at least {LIFECYCLE_EVENTS + 1} events "
            f"(its creation and the {LIFECYCLE_EVENTS} of its lifecycle).",
            hint="Unset it (default 1000) or set a larger integer.",
            id="orders.E001",
        )
    ]
