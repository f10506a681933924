"""The retention app: its policies (retention/policies.py), `manage.py prune` and beat's task."""

from django.apps import AppConfig


class RetentionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "retention"
    verbose_name = "Retention"
