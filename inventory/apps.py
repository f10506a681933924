from django.apps import AppConfig


class InventoryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inventory"

    def ready(self) -> None:
        # Wiring: the event log learns the product event classes.
        from eventlog.serialization import registry
        from inventory.events import PRODUCT_EVENTS

        registry.register(*PRODUCT_EVENTS)
