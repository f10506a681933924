# The order search (readmodels/search.py): a denormalized search_text per summary row, filled
# here from the detail rows, and on PostgreSQL a pg_trgm GIN index over it, so a search for
# any part of a word (`LIKE '%word%'`) reads the index instead of every row. SQLite gets the
# column only (a search there scans the table). The index is not in the model's Meta because
# SQLite cannot build it; it is created and dropped here, on PostgreSQL only.
# pg_trgm is a trusted extension (PostgreSQL 13+): the database owner who runs migrations may
# create it.

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

from readmodels.search import search_text

SEARCH_INDEX = GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name="summary_search_trgm_idx")
BATCH = 2000


def fill_search_text(apps, schema_editor):
    """Each existing summary's text, from its detail row (RunPython asks the router: the read
    database only). Rows written from now on get it from the projection."""
    using = schema_editor.connection.alias
    detail = apps.get_model("readmodels", "OrderDetail")
    summary = apps.get_model("readmodels", "OrderSummary")
    fields = ("order_id", "order_number", "customer_id", "customer_email", "lines", "shipping_address")
    batch = []
    for row in detail.objects.using(using).values(*fields).iterator(chunk_size=BATCH):
        batch.append(summary(order_id=row["order_id"], search_text=search_text(row)))
        if len(batch) == BATCH:
            summary.objects.using(using).bulk_update(batch, ["search_text"])
            batch = []
    summary.objects.using(using).bulk_update(batch, ["search_text"])


def add_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("readmodels", "OrderSummary"), SEARCH_INDEX)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("readmodels", "OrderSummary"), SEARCH_INDEX)


class Migration(migrations.Migration):

    dependencies = [
        ('readmodels', '0008_orderdetail_addresses_refund'),
    ]

    operations = [
        migrations.AddField(
            model_name='ordersummary',
            name='search_text',
            field=models.TextField(blank=True, db_default='', default=''),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        TrigramExtension(),
        migrations.RunPython(add_search_index, drop_search_index),
    ]
