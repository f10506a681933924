"""Seal the personal data stored before it was sealed, so that forgetting a customer erases it.

Events (OrderCreated, ShippingAddressChanged, which also gains its customer id here) and order
snapshots are sealed under their customer's key, created as needed; command records of the
commands that carried personal data get their fingerprint recomputed from the audited
payload (keyed with the customer's key), or emptied where no audit record has the payload
(a retry of such a command is then refused as a reused key, never answered from a plain hash
of an e-mail); records whose audited payload holds nothing personal keep theirs; audit payloads lose their personal fields. The rewriting of append-only rows
happens in the maintenance window (eventlog/append_only.py): on PostgreSQL this migration
must run as a superuser, like the migrations that installed the triggers.

Idempotent: rows already sealed are left alone. The fields are named here, as they were
personal when this ran, not read from the classes, which may change later.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from eventlog.append_only import maintenance_window
from eventlog.keys import SubjectKeys
from eventlog.personal import SEALED, has_personal_data, seal
from orders.commands import ChangeShippingAddress, CreateOrder
from writeside.bus import payload_fingerprint

ADDRESS = ("name", "line1", "line2")
BATCH = 500


class _Order:
    personal_fields: ClassVar[tuple[str, ...]] = (
        "customer_email",
        *(f"{address}.{field}" for address in ("shipping_address", "billing_address") for field in ADDRESS),
    )
    data_subject: ClassVar[str] = "customer_id"


class _AddressChange:
    personal_fields: ClassVar[tuple[str, ...]] = tuple(f"shipping_address.{field}" for field in ADDRESS)
    data_subject: ClassVar[str] = "customer_id"


def _save_in_batches(model: Any, rows: list[Any], fields: list[str], using: str) -> None:
    for start in range(0, len(rows), BATCH):
        model.objects.using(using).bulk_update(rows[start : start + BATCH], fields)


def seal_personal_data(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    using = schema_editor.connection.alias
    StoredEvent = apps.get_model("eventlog", "StoredEvent")
    if StoredEvent._meta.db_table not in schema_editor.connection.introspection.table_names():
        return  # the read database of a two-database setup: no event log here
    Snapshot = apps.get_model("eventlog", "Snapshot")
    CommandRecord = apps.get_model("eventlog", "CommandRecord")
    CommandAudit = apps.get_model("audit", "CommandAudit")
    keys = SubjectKeys(using)
    with maintenance_window(using):
        customers: dict[str, str] = {}
        events = []
        for event in (
            StoredEvent.objects.using(using)
            .filter(event_type__in=["OrderCreated", "ShippingAddressChanged"])
            .order_by("position")
            .iterator(chunk_size=BATCH)
        ):
            data = dict(event.data)
            if event.event_type == "OrderCreated":
                customers[event.stream_id] = data["customer_id"]
                declared: type[Any] = _Order
            else:
                data.setdefault("customer_id", customers.get(event.stream_id, ""))
                declared = _AddressChange
            if SEALED not in data:
                event.data = seal(declared, data, keys)
                events.append(event)
        _save_in_batches(StoredEvent, events, ["data"], using)

        snapshots = []
        for snapshot in Snapshot.objects.using(using).filter(stream_type="order").iterator(chunk_size=BATCH):
            if SEALED not in snapshot.state:
                snapshot.state = seal(_Order, snapshot.state, keys)
                snapshots.append(snapshot)
        _save_in_batches(Snapshot, snapshots, ["state"], using)

        commands = {cls.__name__: cls for cls in (CreateOrder, ChangeShippingAddress)}
        audited = {
            command_id: payload
            for command_id, payload in CommandAudit.objects.using(using)
            .filter(command_type__in=list(commands), outcome__in=["committed", "duplicate"])
            .values_list("command_id", "payload")
        }
        records = []
        for record in CommandRecord.objects.using(using).filter(command_type__in=list(commands)).iterator():
            payload = audited.get(record.command_id)
            if payload is None:
                record.fingerprint = ""
            elif has_personal_data(commands[record.command_type], payload):
                record.fingerprint = payload_fingerprint(commands[record.command_type], payload, keys)
            else:
                continue  # nothing personal was hashed (or this ran before and the audit is redacted)
            records.append(record)
        _save_in_batches(CommandRecord, records, ["fingerprint"], using)

        audits = []
        for audit in CommandAudit.objects.using(using).filter(command_type__in=list(commands)).iterator():
            redacted = dict(audit.payload)
            for field in ("customer_email",):
                if field in redacted:
                    redacted[field] = None
            for address in ("shipping_address", "billing_address"):
                if isinstance(redacted.get(address), dict):
                    redacted[address] = {**redacted[address], **dict.fromkeys(ADDRESS)}
            if redacted != audit.payload:
                audit.payload = redacted
                audits.append(audit)
        _save_in_batches(CommandAudit, audits, ["payload"], using)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_forget_customer_permission"),
        ("eventlog", "0004_subjectkey"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(seal_personal_data, migrations.RunPython.noop, elidable=False)]
