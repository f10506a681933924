from django.db import migrations, models
from django.db.models import Count


def count_existing_orders(apps, schema_editor):
    """Start the totals from the summaries already projected.

    Workers still running the previous release during the deploy do not count their
    changes; rebuild the orders projection after deploying if they projected meanwhile.
    RunPython asks the router, so this runs on the read database only.
    """
    alias = schema_editor.connection.alias
    summary = apps.get_model("readmodels", "OrderSummary")
    counts = apps.get_model("readmodels", "OrderStatusCount")
    rows = summary.objects.using(alias).order_by().values("status").annotate(orders=Count("order_id"))
    counts.objects.using(alias).bulk_create([counts(status=row["status"], orders=row["orders"]) for row in rows])


class Migration(migrations.Migration):
    dependencies = [
        ("readmodels", "0003_catalogname"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderStatusCount",
            fields=[
                ("status", models.CharField(max_length=16, primary_key=True, serialize=False)),
                ("orders", models.BigIntegerField(default=0)),
            ],
            options={
                "ordering": ["status"],
            },
        ),
        migrations.RunPython(count_existing_orders, migrations.RunPython.noop),
    ]
