"""Archived orders for the tests of the rows they carry (projector/carried.py): an order placed
through to delivered with personal data and a named product, a shop partly archived, every
read-model table, and the tables after a rebuild with the steps it told."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID

from django.core.management import call_command
from django.utils import timezone

from archive.procedure import archive_due
from projector.loop import read_database
from readmodels.models import ProductStock, SalesLedgerEntry
from tests.factories import AddressFactory, LineItemFactory
from tests.support import archiving
from tests.support.read_side import read_models
from tests.support.workload import drive_orders

EMAIL = "carried-5k2w@example.org"
LATER = timedelta(days=10_000)
NAMED_SKU = "SKU-carried"
ARCHIVED = 4  # orders archived_shop archives


def delivered_order(customer_id: str) -> UUID:
    """An order with personal data and a named product, placed through to delivered."""
    return archiving.delivered_order(
        customer_id,
        customer_email=EMAIL,
        shipping_address=AddressFactory(),
        items=(LineItemFactory(sku=NAMED_SKU), LineItemFactory()),
    )


def tables() -> dict[str, Any]:
    """Every read-model row, the sales ledger and product stock too."""
    using = read_database()
    return {
        **read_models(),
        "ledger": sorted(SalesLedgerEntry.objects.using(using).values_list(), key=str),
        "stock": sorted(ProductStock.objects.using(using).values_list(), key=str),
    }


def rebuilt(*options: str) -> tuple[dict[str, Any], str]:
    """The tables after `rebuild_projections` with these options, and the steps it told."""
    steps = StringIO()
    call_command("rebuild_projections", *options, verbosity=0, stderr=steps)
    return tables(), steps.getvalue()


def archived_shop() -> None:
    """Hot orders, ARCHIVED archived ones, and one delivered too late to be archived."""
    drive_orders(6, seed=7)
    for n in range(ARCHIVED):
        delivered_order(f"c-backfill-{n}")
    assert len(archive_due(now=timezone.now() + LATER).archived) == ARCHIVED
    delivered_order("c-backfill-hot")


def rows_files(root: Path) -> list[Path]:
    """The carried rows files in the archive storage at `root`, by name."""
    return sorted(root.rglob("*.rows.gz"))
