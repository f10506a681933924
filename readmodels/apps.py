from django.apps import AppConfig


class ReadmodelsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "readmodels"
    verbose_name = "Orders and sales"

    def ready(self) -> None:
        """Register the `__any` lookup (projector/lookups.py) the projections' batches use."""
        from projector import lookups  # noqa: F401
