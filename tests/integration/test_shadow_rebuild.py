"""The blue/green rebuild on real PostgreSQL (projector/shadow.py): live projection goes on
while the shadow loads, the swapped tables equal a projection from scratch, readers see the
old table or the new one and nothing in between, events committed (and projected live)
between the rebuild's catch-up and its swap are in the swapped-in tables, and a killed
rebuild changes nothing live and can be run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any
from uuid import UUID

import pytest
from django.db import connections

from eventlog.store import EventStore
from orders.commands import ConfirmOrder
from projector import shadow
from projector.loop import read_database
from projector.rebuild_progress import rebuild_by_name
from readmodels.models import OrderDetail, OrderSummary
from tests.factories import CreateOrderFactory
from tests.support.convergence import converged
from tests.support.read_side import read_models
from tests.support.services import ROOT, Service, service_env
from tests.support.waiting import eventually
from tests.support.workload import drive_orders
from writeside.bus import handle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def shadow_rows(table: str) -> int | None:
    """Rows in the shadow copy of `table`; None while there is no shadow."""
    with connections[read_database()].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{shadow.SHADOW}.{table}"])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f"SELECT count(*) FROM {shadow.SHADOW}.{table}")
        return int(cursor.fetchone()[0])


@pytest.mark.worker
def test_commands_stay_visible_during_a_rebuild_and_the_swap_equals_a_projection_from_scratch(
    worker: Service, settings: Any
) -> None:
    settings.REBUILD_BATCH_SIZE = 10
    drive_orders(15, seed=31)
    eventually(converged, message="the worker to project every event")
    during: dict[str, Any] = {}
    from_scratch: dict[str, Any] = {}

    def progress(name: str, position: int, head: int) -> None:
        if during or position >= head:
            return
        # Mid-load: the shadow holds part of the log, the rebuild lock is held.
        assert shadow_rows(OrderDetail._meta.db_table)
        created = handle(CreateOrderFactory())
        eventually(
            lambda: OrderSummary.objects.filter(order_id=created.stream_id).exists(),
            timeout=10,
            message="the worker to project a command into the live table during the rebuild",
        )
        handle(ConfirmOrder(order_id=UUID(created.stream_id)))
        eventually(
            lambda: OrderSummary.objects.get(order_id=created.stream_id).status == "CONFIRMED",
            timeout=10,
            message="the live row to follow a second command",
        )
        during["order"] = created.stream_id

    def phase(step: str) -> None:
        if step == "swapping":
            # The worker projected every event from position 0 into the live tables: a
            # projection from scratch to compare the swapped-in tables with.
            eventually(converged, message="the worker to project the commands made during the rebuild")
            from_scratch.update(read_models())

    rebuild_by_name([], progress=progress, phase=phase)
    assert during["order"]
    assert OrderSummary.objects.get(order_id=during["order"]).status == "CONFIRMED"
    assert read_models() == from_scratch
    assert shadow_rows(OrderDetail._meta.db_table) is None  # the shadow and the old tables are gone
    # Live projection continues on the swapped-in tables from their checkpoints.
    handle(ConfirmOrder(order_id=UUID(handle(CreateOrderFactory()).stream_id)))
    eventually(converged, message="the worker to project after the swap")
    assert OrderSummary.objects.count() == len(from_scratch["summary"]) + 1


def test_readers_see_the_old_table_or_the_new_one_never_a_half_built_one(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    settings.REBUILD_BATCH_SIZE = 7
    drive_orders(30, seed=32)
    total = OrderSummary.objects.count()
    # Make the live table differ from what the rebuild will produce: the two counts a
    # reader may see are then total // 2 (old) and total (new), and nothing else.
    kept = total // 2
    doomed = list(OrderSummary.objects.order_by("order_id").values_list("order_id", flat=True)[kept:])
    OrderSummary.objects.filter(order_id__in=doomed).delete()
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(OrderSummary.objects.count())
        except BaseException as error:  # a missing relation during the swap would land here
            errors.append(error)
        finally:
            connections.close_all()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        rebuild_by_name(["orders"])
    finally:
        done.set()
        reader.join(30)
    assert not errors
    assert set(seen) <= {kept, total}
    assert seen[0] == kept
    assert seen[-1] == total


def test_a_killed_rebuild_leaves_the_live_tables_untouched_and_can_be_restarted(settings: Any) -> None:
    settings.PROJECTIONS_INLINE = True
    drive_orders(40, seed=33)
    live = read_models()
    # A batch per event, so the subprocess is still loading when it is killed.
    env = service_env(REBUILD_BATCH_SIZE="1", LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rebuild_projections"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        eventually(
            lambda: (shadow_rows(OrderDetail._meta.db_table) or 0) > 3,
            timeout=60,
            message="the rebuild to load part of the log into the shadow",
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    assert read_models() == live  # nothing of the half-loaded shadow reached the live tables
    assert shadow_rows(OrderDetail._meta.db_table) is not None  # left behind, for the next run to drop
    # The killed session's lock went with it: a new rebuild runs, drops the leftovers and swaps.
    handle(ConfirmOrder(order_id=UUID(handle(CreateOrderFactory()).stream_id)))
    live = read_models()
    heads = rebuild_by_name([])
    assert heads["orders"] == EventStore().head_position()
    assert read_models() == live
    assert shadow_rows(OrderDetail._meta.db_table) is None


def test_commands_committed_between_the_catch_up_and_the_swap_stay_visible_after_it(settings: Any) -> None:
    # Each command is projected into the live tables as it commits, as a worker answering
    # its doorbell would: no later doorbell comes for it.
    settings.PROJECTIONS_INLINE = True
    drive_orders(5, seed=35)
    late: list[str] = []

    def phase(step: str) -> None:
        if step == "swapping":
            # The shadow's catch-up is over and the swap has not begun: these commit and
            # are projected live in between.
            late.extend(handle(CreateOrderFactory()).stream_id for _ in range(3))
            assert OrderSummary.objects.filter(order_id__in=late).count() == 3

    heads = rebuild_by_name(["orders"], phase=phase)
    assert len(late) == 3
    assert OrderSummary.objects.filter(order_id__in=late).count() == 3  # still visible, nothing re-rung
    assert heads["orders"] == EventStore().head_position()
    assert converged()


def test_a_second_rebuild_is_refused_while_one_runs() -> None:
    drive_orders(2, seed=34)
    with connections.create_connection(read_database()).cursor() as other:
        other.execute("SELECT pg_advisory_lock(%s)", [shadow.REBUILD_LOCK_KEY])
        try:
            with pytest.raises(shadow.RebuildRunning):
                rebuild_by_name(["orders"])
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", [shadow.REBUILD_LOCK_KEY])
            other.connection.close()
    assert shadow_rows(OrderDetail._meta.db_table) is None
