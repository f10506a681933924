"""The integration app: the published language, and AMQP in and out of the back office."""

from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "integration"
    default_auto_field = "django.db.models.BigAutoField"
