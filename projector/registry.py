"""The registry of projections: the consumers of the event log listed in settings.PROJECTIONS.

Read models, and consumers that live in their own packages because they act on the world
(the fulfilment process manager sends commands, notifications owe emails, the relay
publishes): all reuse the partitions, checkpoints, doorbells and dead letters. They are
named by dotted path, like settings.EVENT_SUBSCRIBERS, so the code that runs them imports
none of them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from projector.projection import Projection


def all_projections() -> dict[str, Projection]:
    """Each projection of settings.PROJECTIONS by name, in the order they are run."""
    projections: dict[str, Projection] = {}
    for path in settings.PROJECTIONS:
        kind = import_string(path)
        if not (isinstance(kind, type) and issubclass(kind, Projection)):
            raise ImproperlyConfigured(f"settings.PROJECTIONS: {path} is not a Projection")
        projection = kind()
        if projection.name in projections:
            raise ImproperlyConfigured(f"settings.PROJECTIONS: two projections are named {projection.name!r}")
        projections[projection.name] = projection
    return projections
