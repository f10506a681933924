"""Command records expire (IDEMPOTENCY_RETENTION_DAYS), and still never change.

A record answers a retry of its command; kept forever, it is a table that grows with every
command ever handled. From here, a record may be removed once it is older than a day, and
only through `eventlog_expire_command_records(cutoff, batch)`, which removes one bounded
batch of records recorded before both `cutoff` and a day ago:

* The row trigger refuses UPDATE always, and DELETE unless the expiring function asked for
  it (a transaction-local setting) and the record is over a day old: no code path, setting
  or typo can shorten a retry's window below Stripe's 24 hours. TRUNCATE stays refused.
* The function is SECURITY DEFINER: the application role, which has no DELETE on the table
  (docs/architecture.md), expires records through it and cannot remove anything else.
* `recorded_at` gets an index (built CONCURRENTLY on PostgreSQL: no lock that stops appends)
  so a batch reads only expired records, not the table.

SQLite (the embedded default): its DELETE trigger refuses records younger than a day
(`retention.stores` removes older ones); UPDATE stays refused.
"""

from django.db import migrations, models, transaction

# The row guard of a table whose rows may expire: UPDATE refused, DELETE refused unless the
# transaction-local setting named by the trigger's argument is on (only the table's expiring
# function sets it) and the row is over a day old. The audit trail uses it too (audit/0003).
GUARD = """
CREATE OR REPLACE FUNCTION eventlog_refuse_unless_expiring() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting(TG_ARGV[0], true) = 'on'
       AND OLD.recorded_at < now() - interval '1 day' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS eventlog_commandrecord_append_only ON eventlog_commandrecord;
CREATE TRIGGER eventlog_commandrecord_append_only
    BEFORE UPDATE OR DELETE ON eventlog_commandrecord
    FOR EACH ROW EXECUTE FUNCTION eventlog_refuse_unless_expiring('eventlog.expiring_command_records');

CREATE OR REPLACE FUNCTION eventlog_expire_command_records(cutoff timestamptz, batch integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    removed integer;
BEGIN
    PERFORM set_config('eventlog.expiring_command_records', 'on', true);
    -- SKIP LOCKED: a record a retry is reading under lock is left for the next run.
    DELETE FROM eventlog_commandrecord WHERE id IN (
        SELECT id FROM eventlog_commandrecord
        WHERE recorded_at < LEAST(cutoff, now() - interval '1 day')
        ORDER BY recorded_at
        LIMIT GREATEST(batch, 0)
        FOR UPDATE SKIP LOCKED
    );
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('eventlog.expiring_command_records', 'off', true);
    RETURN removed;
END;
$$;
"""

UNGUARD = """
DROP FUNCTION IF EXISTS eventlog_expire_command_records(timestamptz, integer);
DROP TRIGGER IF EXISTS eventlog_commandrecord_append_only ON eventlog_commandrecord;
CREATE TRIGGER eventlog_commandrecord_append_only
    BEFORE UPDATE OR DELETE ON eventlog_commandrecord
    FOR EACH ROW EXECUTE FUNCTION eventlog_reject_change();
DROP FUNCTION IF EXISTS eventlog_refuse_unless_expiring();
"""

SQLITE_DELETE = "eventlog_commandrecord_no_delete"
SQLITE_GUARD = f"""
CREATE TRIGGER {SQLITE_DELETE}
BEFORE DELETE ON eventlog_commandrecord
WHEN OLD.recorded_at >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 day')
BEGIN
    SELECT RAISE(ABORT, 'eventlog_commandrecord is append-only: DELETE is not allowed');
END
"""
SQLITE_UNGUARD = f"""
CREATE TRIGGER {SQLITE_DELETE}
BEFORE DELETE ON eventlog_commandrecord
BEGIN
    SELECT RAISE(ABORT, 'eventlog_commandrecord is append-only: DELETE is not allowed');
END
"""

INDEX = "eventlog_command_recorded_idx"


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        with transaction.atomic(using=schema_editor.connection.alias):  # never a moment unguarded
            schema_editor.execute(GUARD, params=None)
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON eventlog_commandrecord (recorded_at)", params=None
        )
    elif vendor == "sqlite":
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {SQLITE_DELETE}", params=None)
            schema_editor.execute(SQLITE_GUARD, params=None)
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON eventlog_commandrecord (recorded_at)", params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}", params=None)
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute(UNGUARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}", params=None)
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {SQLITE_DELETE}", params=None)
            schema_editor.execute(SQLITE_UNGUARD, params=None)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction.
    atomic = False

    dependencies = [("eventlog", "0004_subjectkey")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="commandrecord", index=models.Index(fields=["recorded_at"], name=INDEX)
                )
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
