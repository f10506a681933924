"""Audit rows older than AUDIT_RETENTION_DAYS may be pruned, and still never change.

The trigger of 0001 refused every DELETE. Now (with the event log's guard, eventlog/0005) it
lets one through only when `audit_prune_command_audit(cutoff, batch)` asked for it (a
transaction-local setting) and the row is over a day old; UPDATE and TRUNCATE stay refused. The function (SECURITY DEFINER, so
a role without DELETE can run it) removes one bounded batch of rows recorded before both
`cutoff` and a day ago, oldest first, from the `recorded_at` index. SQLite has no audit
trigger (0001): nothing to change there.
"""

from django.db import migrations

GUARD = """
DROP TRIGGER IF EXISTS audit_commandaudit_append_only ON audit_commandaudit;
CREATE TRIGGER audit_commandaudit_append_only
    BEFORE UPDATE OR DELETE ON audit_commandaudit
    FOR EACH ROW EXECUTE FUNCTION eventlog_refuse_unless_expiring('audit.pruning');

CREATE OR REPLACE FUNCTION audit_prune_command_audit(cutoff timestamptz, batch integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    removed integer;
BEGIN
    PERFORM set_config('audit.pruning', 'on', true);
    DELETE FROM audit_commandaudit WHERE id IN (
        SELECT id FROM audit_commandaudit
        WHERE recorded_at < LEAST(cutoff, now() - interval '1 day')
        ORDER BY recorded_at
        LIMIT GREATEST(batch, 0)
        FOR UPDATE SKIP LOCKED
    );
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('audit.pruning', 'off', true);
    RETURN removed;
END;
$$;
"""

UNGUARD = """
DROP FUNCTION IF EXISTS audit_prune_command_audit(timestamptz, integer);
DROP TRIGGER IF EXISTS audit_commandaudit_append_only ON audit_commandaudit;
CREATE TRIGGER audit_commandaudit_append_only
    BEFORE UPDATE OR DELETE ON audit_commandaudit
    FOR EACH ROW EXECUTE FUNCTION eventlog_reject_change();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_sized_to_their_sources"), ("eventlog", "0005_expiring_command_records")]
    operations = [migrations.RunPython(forwards, backwards)]
