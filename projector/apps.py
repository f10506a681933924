"""The projection engine's Django app: its models (checkpoints, dead letters), admin, tasks, commands."""

from django.apps import AppConfig


class ProjectorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "projector"
    verbose_name = "Projection engine"

    def ready(self) -> None:
        """Register the `__any` lookup (projector/lookups.py) the engine's batches use."""
        from projector import lookups  # noqa: F401
