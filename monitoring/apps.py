"""The monitoring app: connects Celery's task signals to the task-outcome counter."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        """Count Celery task outcomes in every process that runs tasks (monitoring/metrics.py)."""
        from monitoring import metrics

        metrics.connect_celery_signals()
