"""Denormalized read-model tables.

Every table here is derived from the event log and can be rebuilt from it.
"""

from __future__ import annotations

from django.db import models

from kernel.money import MAX_MINOR_UNITS

# Digits of a running sum of amounts. One order's total is below 10^12 (orders/domain.py
# MAX_TOTAL), so numeric(38,3) overflows only after more than 10^23 orders: never.
MONEY_SUM_DIGITS = 38
# Decimals of a stored amount: those of the currency with the most (3: KWD, BHD, ...). The
# answers write each amount with exactly its own currency's (kernel/money.py).
MONEY_PLACES = MAX_MINOR_UNITS


def money_field(**options: object) -> models.DecimalField:  # type: ignore[type-arg]
    """A Decimal column for one order's amounts: 14 digits before the point, 3 after."""
    return models.DecimalField(max_digits=14 + MONEY_PLACES, decimal_places=MONEY_PLACES, **options)  # type: ignore[arg-type]


def money_sum_field(**options: object) -> models.DecimalField:  # type: ignore[type-arg]
    """A Decimal column for amounts added up over many orders: 35 digits before the point."""
    return models.DecimalField(max_digits=MONEY_SUM_DIGITS, decimal_places=MONEY_PLACES, **options)  # type: ignore[arg-type]


class OrderSummary(models.Model):
    """One row per order, shaped for the order list."""

    order_id = models.UUIDField(primary_key=True)
    order_number = models.CharField(max_length=20, unique=True)
    customer_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    item_count = models.PositiveIntegerField()
    total_amount = money_field()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField()
    # What the order search matches (readmodels/search.py); on PostgreSQL a pg_trgm GIN
    # index (migrations 0009 and 0016, not declared here: SQLite has none) finds the rows.
    search_text = models.TextField(blank=True, default="", db_default="")
    # Whose order it is, for staff reading the list: the shipping address's name and the
    # e-mail. Empty when the order has none or its customer was forgotten; the `orders`
    # projection writes them from the same view as the detail row, so a forgetting's refold
    # and a rebuild empty them exactly as they null the detail's copies.
    customer_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    customer_email = models.CharField(max_length=254, blank=True, default="", db_default="")
    # What the shop still owes the customer, and what it has paid back (OrderDetail's too).
    refund_due = money_field(default=0, db_default=0)
    refunded = money_field(default=0, db_default=0)

    class Meta:
        # Staff read "orders": the page shows the whole order, not this row.
        verbose_name = "order"
        verbose_name_plural = "orders"
        ordering = ["-created_at"]
        indexes = [
            # Who is owed money (?refund_due=true, the admin's "refund owed"): few rows among many.
            models.Index(fields=["-created_at"], condition=models.Q(refund_due__gt=0), name="summary_refund_due_idx"),
            models.Index(fields=["status", "-created_at"], name="summary_status_created_idx"),
            models.Index(fields=["customer_id", "-created_at"], name="summary_customer_created_idx"),
            # With the tie-breaker the list sorts by (selectors/orders.py), so a page walks it
            # and stops at its last row even among equal times. A search past SEARCH_COUNT_LIMIT
            # matches walks the same order in summary_search_walk_idx (migration 0016), which
            # holds the search text too (PostgreSQL only, hence not here).
            models.Index(fields=["-created_at", "order_id"], name="summary_created_order_idx"),
        ]

    def __str__(self) -> str:
        return self.order_number


class SearchWord(models.Model):
    """A word some order's search text holds (readmodels/search.py): the vocabulary a search
    looks a typed part of a word up in. A word no order holds any more is deleted with its
    last posting (readmodels/projections/search_words.py), so a forgotten customer's e-mail
    and name leave the vocabulary with their orders' rows. PostgreSQL only (SQLite's search
    scans the summaries); its trigram index is migration 0017's, not declared here."""

    word = models.TextField(primary_key=True)

    def __str__(self) -> str:
        return self.word


class SearchPosting(models.Model):
    """One word of one order's search text, with the order's time: a word's orders in the
    list's order (newest first, then by order id) are one range of the table's only index, read
    without the table. On PostgreSQL that index is a unique one over (word, created_at DESC,
    order_id) rather than a primary key constraint, which cannot sort descending (migration
    0018, not declared here: SQLite has the plain key). It keeps an order from holding a word
    twice because an order's time never changes (its OrderCreated's, in a replay and a rebuild
    too). The projection deletes a posting by word and order
    (readmodels/projections/search_words.py), which the index's word prefix finds."""

    pk = models.CompositePrimaryKey("word", "created_at", "order_id")
    word = models.TextField()
    created_at = models.DateTimeField()
    order_id = models.UUIDField()

    def __str__(self) -> str:
        return f"{self.word} {self.order_id}"


class OrderStatusCount(models.Model):
    """How many orders are in each status: the order list's total without counting rows."""

    status = models.CharField(max_length=16, primary_key=True)
    orders = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["status"]

    def __str__(self) -> str:
        return f"{self.status}: {self.orders}"


class OrderDetail(models.Model):
    """One row per order with its lines and timeline, shaped for the detail page."""

    order_id = models.UUIDField(primary_key=True)
    order_number = models.CharField(max_length=20, unique=True)
    customer_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    item_count = models.PositiveIntegerField()
    total_amount = money_field()
    currency = models.CharField(max_length=3)
    lines = models.JSONField(default=list)
    payment_id = models.CharField(max_length=255, blank=True)
    tracking_number = models.CharField(max_length=255, blank=True)
    carrier = models.CharField(max_length=64, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    # What the shop still owes the customer back (a cancelled payment, a payment after the
    # cancellation, returned goods; less refunds paid), and what it has paid back.
    # db_default here and below: rows a worker of the previous release inserts during a deploy still fit.
    refund_due = money_field(default=0, db_default=0)
    refunded = money_field(default=0, db_default=0)
    # Empty (null for the addresses) where the order has none: orders placed before they existed.
    customer_email = models.CharField(max_length=254, blank=True, default="", db_default="")
    shipping_address = models.JSONField(null=True, blank=True)
    billing_address = models.JSONField(null=True, blank=True)
    payment_method = models.CharField(max_length=16, blank=True, default="", db_default="")
    # The latest ORDER_TIMELINE_ENTRIES entries, oldest first, and how many there were in all.
    timeline = models.JSONField(default=list)
    # db_default: rows a worker of the previous release inserts during a deploy still fit.
    timeline_count = models.PositiveIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.order_number


class CustomerOrderStats(models.Model):
    """Per customer: how many orders, how many open or cancelled, when the last one came."""

    customer_id = models.CharField(max_length=64, primary_key=True)
    orders_count = models.BigIntegerField(default=0)
    open_orders_count = models.BigIntegerField(default=0)
    cancelled_orders_count = models.BigIntegerField(default=0)
    last_order_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "customer"
        verbose_name_plural = "customers"

    def __str__(self) -> str:
        return self.customer_id


class CustomerLifetimeValue(models.Model):
    """Per customer and currency: what paid, not cancelled orders brought in."""

    customer_id = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    amount = money_sum_field(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer_id", "currency"], name="ltv_customer_currency_uniq")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.amount} {self.currency}"


class DailySales(models.Model):
    """Per day and currency: orders placed and paid, revenue, cancellations, what cancellations
    of paid orders owed back (`refunded`, a name kept from before refunds were recorded), and
    the refunds actually paid out that day (`refunds_paid`)."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    orders_placed = models.BigIntegerField(default=0)
    orders_paid = models.BigIntegerField(default=0)
    revenue = money_sum_field(default=0)
    cancellations = models.BigIntegerField(default=0)
    refunded = money_sum_field(default=0)
    refunds_paid = money_sum_field(default=0, db_default=0)

    class Meta:
        verbose_name_plural = "daily sales"
        ordering = ["-day", "currency"]
        constraints = [models.UniqueConstraint(fields=["day", "currency"], name="daily_sales_day_currency_uniq")]

    def __str__(self) -> str:
        return f"{self.day} {self.currency}"


class SalesLedgerEntry(models.Model):
    """The sales projection's private memory of each order: what later events need to know."""

    order_id = models.UUIDField(primary_key=True)
    customer_id = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16)
    paid_amount = money_field(default=0)
    version = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.order_id} {self.status}"


class ProductStock(models.Model):
    """One row per product: its catalog name and price, and its stock right now."""

    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    price = money_field()
    on_hand = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    available = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField()

    class Meta:
        verbose_name = "product"
        verbose_name_plural = "products"
        ordering = ["sku"]

    def __str__(self) -> str:
        return self.sku


class CatalogName(models.Model):
    """A product's current catalog name as the `orders` projection knows it.

    The projection copies it onto OrderDetail lines of that SKU; `version` is the product
    stream version of the naming event applied, so a repeated or older one is ignored.
    """

    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.sku}: {self.name}"


class ForgottenCustomer(models.Model):
    """A customer the read side has seen forgotten, and the log position of the latest
    CustomerForgotten of theirs: what the personal data of a row may come from
    (readmodels/forgetting.py). Not rebuilt with any projection: both projections that hold
    personal data write it, idempotently, and a customer id is a pseudonymous reference."""

    customer_id = models.CharField(max_length=64, primary_key=True)
    position = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.customer_id} forgotten at {self.position}"
