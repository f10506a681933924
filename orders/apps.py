from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        # Wiring: the event log learns the order event classes and their upcasters; the shared
        # write side the order's handlers, its repository and the HTTP problems of its errors.
        from django.conf import settings

        from eventlog.serialization import registry
        from orders import checks, errors, upcasters  # noqa: F401  (register checks and upcasters on import)
        from orders.customers import Customer
        from orders.domain import Order
        from orders.events import CUSTOMER_EVENTS, ORDER_EVENTS
        from orders.handlers import HANDLERS
        from orders.repository import EventSourcedCustomers, EventSourcedOrders
        from web.errors import register_problem
        from writeside.bus import register_handlers
        from writeside.unit_of_work import register_repository

        registry.register(*ORDER_EVENTS, *CUSTOMER_EVENTS)
        register_handlers(HANDLERS)
        register_repository(
            Order,
            lambda store: EventSourcedOrders(store, settings.SNAPSHOT_EVERY, settings.MAX_EVENTS_PER_ORDER),
        )
        register_repository(Customer, lambda store: EventSourcedCustomers(store, settings.SNAPSHOT_EVERY))
        register_problem(errors.CustomerNotFound, 404, "not-found", "Customer not found")
        register_problem(errors.OrderNotFound, 404, "not-found", "Order not found")
        register_problem(errors.LineNotFound, 404, "not-found", "Order line not found")
        register_problem(errors.OrderAlreadyExists, 409, "conflict", "Order already exists")
