"""Each email owed names whose order it is for (`customer_id`), so that forgetting a customer
finds the emails that may name them without asking the order list (which a rebuild may be
refilling at that moment: notifications/projection.py).

Existing rows are filled from the order list (readmodels' OrderSummary, on the
same database as the outbox; it has every order a projection applied, archived ones too),
and any order it does not hold yet (the orders projection behind the notifications one) from
the order's OrderCreated in the log (its customer id is never sealed). The index is built
CONCURRENTLY on PostgreSQL (the outbox takes inserts from every projection batch), so this
migration runs outside a transaction. Reversed, the column and its index go; nothing else
was changed.
"""

from collections import defaultdict

from django.conf import settings
from django.db import migrations, models

BATCH = 2000
INDEX = models.Index(fields=["customer_id"], name="notification_customer_idx")
POSTGRES = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS notification_customer_idx ON notifications_notification (customer_id)"
)


def fill_customers(apps, schema_editor):
    """The customer of every existing email: from the order list in one statement, then the
    orders it does not hold from the log, a batch of orders at a time, one UPDATE per customer."""
    using = schema_editor.connection.alias
    notification = apps.get_model("notifications", "Notification")
    summary = apps.get_model("readmodels", "OrderSummary")
    stored = apps.get_model("eventlog", "StoredEvent")
    table, listed = notification._meta.db_table, summary._meta.db_table
    schema_editor.execute(
        f"UPDATE {table} SET customer_id = COALESCE((SELECT listed.customer_id FROM {listed} listed"
        f" WHERE listed.order_id = {table}.order_id), '') WHERE customer_id = ''",
        params=None,
    )
    unknown = notification.objects.using(using).filter(customer_id="")
    orders = [str(order) for order in unknown.order_by().values_list("order_id", flat=True).distinct()]
    for start in range(0, len(orders), BATCH):
        created = stored.objects.using(settings.EVENTLOG_DATABASE).filter(
            stream_id__in=orders[start : start + BATCH], version=1
        )
        by_customer = defaultdict(list)
        for stream_id, data in created.values_list("stream_id", "data"):
            by_customer[str(data["customer_id"])].append(stream_id)
        for customer, streams in by_customer.items():
            unknown.filter(order_id__in=streams).update(customer_id=customer)


def add_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    else:
        schema_editor.add_index(apps.get_model("notifications", "Notification"), INDEX)


def remove_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS notification_customer_idx", params=None)
    else:
        schema_editor.remove_index(apps.get_model("notifications", "Notification"), INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("notifications", "0002_payload_index"),
        ("readmodels", "0016_search_indexes"),
        ("eventlog", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="customer_id",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(fill_customers, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="notification", index=INDEX)],
            database_operations=[migrations.RunPython(add_index, remove_index)],
        ),
    ]
