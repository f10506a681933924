# Whose order it is on the list rows: the shipping address's name and the e-mail, copied here
# from each detail row (which already holds what forgetting left: nulls for a forgotten
# customer), so existing rows show them at once. Rows written from now on get them from the
# `orders` projection.

from django.db import migrations, models

BATCH = 2000


def fill_customer(apps, schema_editor):
    """Each existing summary's name and e-mail, from its detail row (RunPython asks the
    router: the read database only)."""
    using = schema_editor.connection.alias
    detail = apps.get_model("readmodels", "OrderDetail")
    summary = apps.get_model("readmodels", "OrderSummary")
    batch = []
    rows = detail.objects.using(using).values("order_id", "customer_email", "shipping_address")
    for row in rows.iterator(chunk_size=BATCH):
        name = (row["shipping_address"] or {}).get("name") or ""
        batch.append(summary(order_id=row["order_id"], customer_name=name, customer_email=row["customer_email"] or ""))
        if len(batch) == BATCH:
            summary.objects.using(using).bulk_update(batch, ["customer_name", "customer_email"])
            batch = []
    summary.objects.using(using).bulk_update(batch, ["customer_name", "customer_email"])


class Migration(migrations.Migration):

    dependencies = [
        ('readmodels', '0010_forgottencustomer'),
    ]

    operations = [
        migrations.AddField(
            model_name='ordersummary',
            name='customer_email',
            field=models.CharField(blank=True, db_default='', default='', max_length=254),
        ),
        migrations.AddField(
            model_name='ordersummary',
            name='customer_name',
            field=models.CharField(blank=True, db_default='', default='', max_length=200),
        ),
        migrations.RunPython(fill_customer, migrations.RunPython.noop),
    ]
