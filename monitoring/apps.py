"""The monitoring app: connects Celery's task signals to the task-outcome counter and the log context."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        """Count Celery task outcomes (telemetry/counters.py) and name the task on its log lines
        (telemetry/logs.py), in every process that runs tasks."""
        from telemetry import counters, logs

        counters.connect_celery_signals()
        logs.connect_task_context()
