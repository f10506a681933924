"""The notifications app: registers its part of `verify`'s forgetting check."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self) -> None:
        """The forgetting check (readmodels/verification.py) looks at the directory and the
        outbox too: they hold customers' addresses."""
        from notifications.verification import plain_copies
        from readmodels.verification import register_plain_copies

        register_plain_copies(plain_copies)
