"""Puts the read side's tables (the projection engine's checkpoints and dead letters, the read
models, the notification outbox, the payment deadlines, and the relay's carried state) on
READMODELS_DATABASE, so each commits with the checkpoints that account for it; everything else
stays on default."""

from __future__ import annotations

from typing import Any

from django.conf import settings

READ_APPS = frozenset({"projector", "readmodels", "notifications"})
# Projection tables of an app that otherwise stays on default: (app label, model name).
# The relay's carried state commits with the relay's checkpoint (integration/carried_state.py).
READ_MODELS = frozenset({("fulfilment", "paymentdeadline"), ("integration", "carriedstate")})


def _is_read(app_label: str, model_name: str | None) -> bool:
    return app_label in READ_APPS or (app_label, model_name) in READ_MODELS


class ReadModelRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        meta = model._meta
        return settings.READMODELS_DATABASE if _is_read(meta.app_label, meta.model_name) else None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if settings.READMODELS_DATABASE == "default":
            return None
        if _is_read(app_label, model_name):
            return db == settings.READMODELS_DATABASE
        return db == "default"
