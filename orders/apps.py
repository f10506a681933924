from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        # Wiring: the event log learns the order event classes and their upcasters.
        from eventlog.serialization import registry
        from orders import checks, upcasters  # noqa: F401  (register checks and upcasters on import)
        from orders.events import ORDER_EVENTS

        registry.register(*ORDER_EVENTS)
