from django.apps import AppConfig


class InventoryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inventory"

    def ready(self) -> None:
        # Wiring: the event log learns the product event classes; the shared write side its
        # handlers, its repository and the HTTP problems of its errors.
        from django.conf import settings

        from eventlog.serialization import registry
        from inventory.domain import Product
        from inventory.errors import ProductAlreadyExists, ProductNotFound, StockBelowReserved
        from inventory.events import PRODUCT_EVENTS
        from inventory.handlers import HANDLERS
        from inventory.repository import EventSourcedProducts
        from web.errors import register_problem
        from writeside.bus import register_handlers
        from writeside.unit_of_work import register_repository

        registry.register(*PRODUCT_EVENTS)
        register_handlers(HANDLERS)
        register_repository(Product, lambda store: EventSourcedProducts(store, settings.SNAPSHOT_EVERY))
        register_problem(ProductNotFound, 404, "not-found", "Product not found")
        register_problem(ProductAlreadyExists, 409, "conflict", "Product already exists")
        register_problem(StockBelowReserved, 409, "conflict", "Stock below reserved")
