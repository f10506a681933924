"""Puts the read side's tables (the projection engine's checkpoints and dead letters, the read
models, and the notification outbox) on READMODELS_DATABASE, so each commits with the
checkpoints that account for it; everything else stays on default."""

from __future__ import annotations

from typing import Any

from django.conf import settings

READ_APPS = frozenset({"projector", "readmodels", "notifications"})


class ReadModelRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return settings.READMODELS_DATABASE if model._meta.app_label in READ_APPS else None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if settings.READMODELS_DATABASE == "default":
            return None
        if app_label in READ_APPS:
            return db == settings.READMODELS_DATABASE
        return db == "default"
