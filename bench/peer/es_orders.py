"""The standard order workload written idiomatically with the `eventsourcing` library (the peer).

Runs only in bench/.peer-venv (see bench/peer/requirements.txt); imports nothing from this
repository but bench/spec.py, and never Django. An Order aggregate whose command methods check
the rule and then call an @event-decorated method, an Application that loads and saves it, and
a tracked projection of OrderSummary through the library's Projection / ProjectionRunner.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

SNAPSHOT_EVERY = 50  # the product's default SNAPSHOT_EVERY, for the same load behaviour


class OrderError(Exception):
    """A command not allowed in the order's state, or a broken business rule."""


class Order(Aggregate):
    """An order: PENDING -> CONFIRMED -> PAID -> SHIPPED, lines editable while PENDING."""

    @event("Created")
    def __init__(self, id: UUID, customer_id: str, currency: str, lines: list[dict[str, Any]]) -> None:
        # `id` (the workload's order id) becomes the aggregate's id: the library takes it from here.
        self.customer_id = customer_id
        self.currency = currency
        self.lines = lines
        self.status = "PENDING"
        self.payment_id: str | None = None
        self.tracking_number: str | None = None
        self.carrier: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line["quantity"] * line["unit_price"] for line in self.lines), Decimal("0.00"))

    def add_item(self, sku: str, quantity: int, unit_price: Decimal) -> None:
        self._require("PENDING", "add an item to")
        self._item_added(sku, quantity, unit_price)

    @event("ItemAdded")
    def _item_added(self, sku: str, quantity: int, unit_price: Decimal) -> None:
        self.lines = [*self.lines, {"sku": sku, "quantity": quantity, "unit_price": unit_price}]

    def remove_item(self, sku: str) -> None:
        self._require("PENDING", "remove an item from")
        line = next((line for line in self.lines if line["sku"] == sku), None)
        if line is None:
            raise OrderError(f"no line {sku}")
        self._item_removed(sku, line["quantity"], line["unit_price"])

    @event("ItemRemoved")
    def _item_removed(self, sku: str, quantity: int, unit_price: Decimal) -> None:
        self.lines = [line for line in self.lines if line["sku"] != sku]

    def confirm(self) -> None:
        self._require("PENDING", "confirm")
        if not self.lines:
            raise OrderError("an order needs at least one line")
        self._confirmed()

    @event("Confirmed")
    def _confirmed(self) -> None:
        self.status = "CONFIRMED"

    def pay(self, payment_id: str, amount: Decimal) -> None:
        self._require("CONFIRMED", "pay")
        if amount != self.total:
            raise OrderError(f"payment {amount} does not equal the total {self.total}")
        self._paid(payment_id, amount)

    @event("Paid")
    def _paid(self, payment_id: str, amount: Decimal) -> None:
        self.status = "PAID"
        self.payment_id = payment_id

    def ship(self, tracking_number: str, carrier: str) -> None:
        self._require("PAID", "ship")
        self._shipped(tracking_number, carrier)

    @event("Shipped")
    def _shipped(self, tracking_number: str, carrier: str) -> None:
        self.status = "SHIPPED"
        self.tracking_number = tracking_number
        self.carrier = carrier

    def _require(self, status: str, verb: str) -> None:
        if self.status != status:
            raise OrderError(f"Cannot {verb} an order in status {self.status}")


class Orders(Application[UUID]):
    """The write side: each command loads the order, runs it, saves the new events.

    No snapshots: on the workload's 4-event orders they only add a snapshot lookup to every
    load (measured: p50 about 0.4 ms slower a command), so the peer runs at its best without.
    """

    name = "Orders"

    def create_order(self, order_id: UUID, customer_id: str, currency: str, lines: list[dict[str, Any]]) -> int:
        order = Order(id=order_id, customer_id=customer_id, currency=currency, lines=lines)
        return self._save(order)

    def confirm_order(self, order_id: UUID) -> int:
        order: Order = self.repository.get(order_id)
        order.confirm()
        return self._save(order)

    def pay_order(self, order_id: UUID, payment_id: str, amount: Decimal) -> int:
        order: Order = self.repository.get(order_id)
        order.pay(payment_id, amount)
        return self._save(order)

    def ship_order(self, order_id: UUID, tracking_number: str, carrier: str) -> int:
        order: Order = self.repository.get(order_id)
        order.ship(tracking_number, carrier)
        return self._save(order)

    def add_item(self, order_id: UUID, sku: str, quantity: int, unit_price: Decimal) -> int:
        order: Order = self.repository.get(order_id)
        order.add_item(sku, quantity, unit_price)
        return self._save(order)

    def remove_item(self, order_id: UUID, sku: str) -> int:
        order: Order = self.repository.get(order_id)
        order.remove_item(sku)
        return self._save(order)

    def get_order(self, order_id: UUID) -> Order:
        order: Order = self.repository.get(order_id)
        return order

    def _save(self, order: Order) -> int:
        """Save the order's new events; the notification id (global position) of the last one."""
        recordings = self.save(order)
        return recordings[-1].notification.id


class SnapshottingOrders(Orders):
    """The same application (same name, same tables) snapshotting every 50 events, as the
    library's docs recommend for long-lived aggregates: used by the load phase."""

    name = "Orders"  # the library names a subclass after itself unless told
    snapshotting_intervals: ClassVar[dict[type[Aggregate], int]] = {Order: SNAPSHOT_EVERY}


class OrderSummaryView(TrackingRecorder):
    """The materialised view's interface: one row per order, written with its tracking record."""

    @abstractmethod
    def order_created(self, row: dict[str, Any], tracking: Tracking) -> None:
        """Insert a new summary row."""

    @abstractmethod
    def status_changed(self, order_id: UUID, status: str, version: int, at: datetime, tracking: Tracking) -> None:
        """Move an order to a new status."""

    @abstractmethod
    def lines_changed(
        self, order_id: UUID, delta_items: int, delta_total: Decimal, version: int, at: datetime, tracking: Tracking
    ) -> None:
        """Adjust the item count and total after a line was added or removed."""

    @abstractmethod
    def get(self, order_id: UUID) -> dict[str, Any] | None:
        """The summary row of one order, or None."""

    @abstractmethod
    def count(self) -> int:
        """How many orders the view holds."""


class PostgresOrderSummaryView(PostgresTrackingRecorder, OrderSummaryView):
    """OrderSummary in PostgreSQL: each event's row change commits with its tracking record."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        assert self.tracking_table_name.endswith("_tracking")  # the library's convention: <name>_tracking
        self.table_name = self.tracking_table_name.removesuffix("_tracking")
        self.check_identifier_length(self.table_name)
        schema, table = Identifier(self.datastore.schema), Identifier(self.table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} ("
                "order_id uuid PRIMARY KEY, customer_id text NOT NULL, status text NOT NULL, "
                "item_count integer NOT NULL, total numeric(14, 2) NOT NULL, currency char(3) NOT NULL, "
                "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version integer NOT NULL)"
            ).format(schema, table)
        )
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1}.{2} (status, created_at DESC)").format(
                Identifier(f"{self.table_name}_status_idx"), schema, table
            )
        )
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1}.{2} (customer_id, created_at DESC)").format(
                Identifier(f"{self.table_name}_customer_idx"), schema, table
            )
        )
        self.insert_statement = SQL(
            "INSERT INTO {0}.{1} (order_id, customer_id, status, item_count, total, currency, created_at, "
            "updated_at, version) VALUES (%(order_id)s, %(customer_id)s, %(status)s, %(item_count)s, %(total)s, "
            "%(currency)s, %(created_at)s, %(created_at)s, %(version)s)"
        ).format(schema, table)
        self.status_statement = SQL(
            "UPDATE {0}.{1} SET status = %s, version = %s, updated_at = %s WHERE order_id = %s"
        ).format(schema, table)
        self.lines_statement = SQL(
            "UPDATE {0}.{1} SET item_count = item_count + %s, total = total + %s, version = %s, updated_at = %s "
            "WHERE order_id = %s"
        ).format(schema, table)
        self.select_statement = SQL(
            "SELECT order_id, customer_id, status, item_count, total, currency, version FROM {0}.{1} "
            "WHERE order_id = %s"
        ).format(schema, table)
        self.count_statement = SQL("SELECT count(*) AS n FROM {0}.{1}").format(schema, table)

    def order_created(self, row: dict[str, Any], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self.insert_statement, row, prepare=True)

    def status_changed(self, order_id: UUID, status: str, version: int, at: datetime, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self.status_statement, (status, version, at, order_id), prepare=True)

    def lines_changed(
        self, order_id: UUID, delta_items: int, delta_total: Decimal, version: int, at: datetime, tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            curs.execute(self.lines_statement, (delta_items, delta_total, version, at, order_id), prepare=True)

    def get(self, order_id: UUID) -> dict[str, Any] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.select_statement, (order_id,), prepare=True)
            row = curs.fetchone()
            return dict(row) if row else None

    def count(self) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.count_statement)
            row = curs.fetchone()
            return int(row["n"]) if row else 0


class OrderSummaryProjection(Projection[OrderSummaryView]):
    """Order events -> OrderSummary rows; the runner feeds it the notification log in bulk."""

    name = "ordersummary"
    topics: tuple[str, ...] = tuple(
        get_topic(cls)
        for cls in (Order.Created, Order.ItemAdded, Order.ItemRemoved, Order.Confirmed, Order.Paid, Order.Shipped)
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: Order.Created, tracking: Tracking) -> None:
        lines = domain_event.lines
        row = {
            "order_id": domain_event.originator_id,
            "customer_id": domain_event.customer_id,
            "status": "PENDING",
            "item_count": sum(line["quantity"] for line in lines),
            "total": sum((line["quantity"] * line["unit_price"] for line in lines), Decimal("0.00")),
            "currency": domain_event.currency,
            "created_at": domain_event.timestamp,
            "version": domain_event.originator_version,
        }
        self.view.order_created(row, tracking)

    @process_event.register
    def _(self, domain_event: Order.ItemAdded, tracking: Tracking) -> None:
        e = domain_event
        amount = e.quantity * e.unit_price
        self.view.lines_changed(e.originator_id, e.quantity, amount, e.originator_version, e.timestamp, tracking)

    @process_event.register
    def _(self, domain_event: Order.ItemRemoved, tracking: Tracking) -> None:
        e = domain_event
        amount = e.quantity * e.unit_price
        self.view.lines_changed(e.originator_id, -e.quantity, -amount, e.originator_version, e.timestamp, tracking)

    @process_event.register
    def _(self, domain_event: Order.Confirmed, tracking: Tracking) -> None:
        self._status(domain_event, "CONFIRMED", tracking)

    @process_event.register
    def _(self, domain_event: Order.Paid, tracking: Tracking) -> None:
        self._status(domain_event, "PAID", tracking)

    @process_event.register
    def _(self, domain_event: Order.Shipped, tracking: Tracking) -> None:
        self._status(domain_event, "SHIPPED", tracking)

    def _status(self, domain_event: Any, status: str, tracking: Tracking) -> None:
        e = domain_event
        self.view.status_changed(e.originator_id, status, e.originator_version, e.timestamp, tracking)
