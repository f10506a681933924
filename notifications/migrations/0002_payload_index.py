"""The index retention reads the finished emails that still carry personal data from.

Built CONCURRENTLY on PostgreSQL (the outbox takes inserts from every projection batch: a
plain CREATE INDEX would stop them for the build), so this migration runs outside a
transaction; elsewhere it is an ordinary index.
"""

from django.db import migrations, models

INDEX = models.Index(
    condition=models.Q(("status__in", ["sent", "failed"]))
    & (~models.Q(recipient="") | ~models.Q(subject="") | ~models.Q(last_error="")),
    fields=["occurred_at"],
    name="notification_payload_idx",
)

POSTGRES = """
CREATE INDEX CONCURRENTLY IF NOT EXISTS notification_payload_idx ON notifications_notification (occurred_at)
WHERE status IN ('sent', 'failed') AND (recipient <> '' OR subject <> '' OR last_error <> '')
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    else:
        schema_editor.add_index(apps.get_model("notifications", "Notification"), INDEX)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS notification_payload_idx", params=None)
    else:
        schema_editor.remove_index(apps.get_model("notifications", "Notification"), INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("notifications", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="notification", index=INDEX)],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
