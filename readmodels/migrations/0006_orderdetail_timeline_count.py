from django.conf import settings
from django.db import migrations, models

CHUNK = 500


def count_and_trim_timelines(apps, schema_editor):
    """Count each stored timeline (it held every entry until now), then keep only its latest
    ORDER_TIMELINE_ENTRIES, as the projection and a rebuild now write it.

    Workers still running the previous release during the deploy write whole timelines and
    no count; rebuild the orders projection after deploying if they projected meanwhile.
    RunPython asks the router, so this runs on the read database only.
    """
    connection = schema_editor.connection
    detail = apps.get_model("readmodels", "OrderDetail")
    length = "jsonb_array_length" if connection.vendor == "postgresql" else "json_array_length"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {detail._meta.db_table} SET timeline_count = {length}(timeline)")
    keep = int(settings.ORDER_TIMELINE_ENTRIES)
    rows = detail.objects.using(connection.alias).filter(timeline_count__gt=keep).only("order_id", "timeline")
    trimmed = []
    for row in rows.iterator(chunk_size=CHUNK):
        row.timeline = row.timeline[-keep:]
        trimmed.append(row)
        if len(trimmed) == CHUNK:
            detail.objects.using(connection.alias).bulk_update(trimmed, ["timeline"])
            trimmed = []
    detail.objects.using(connection.alias).bulk_update(trimmed, ["timeline"])


class Migration(migrations.Migration):
    dependencies = [
        ("readmodels", "0005_wide_running_sums"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderdetail",
            name="timeline_count",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.RunPython(count_and_trim_timelines, migrations.RunPython.noop),
    ]
