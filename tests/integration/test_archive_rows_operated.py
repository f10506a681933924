"""The fast rebuild from the admin's rebuild button and from the Celery rebuild task: the operator
ticks "from archive rows" (the full replay stays the default); the rebuild restores the carried
rows, says which projections it replays in full and why, gives the full replay's tables, and a
damaged rows file is a clear message that changes nothing, never an error page.
(Who may press the button: tests/e2e/test_admin.py, the same permission as every rebuild.)"""

from __future__ import annotations

import gzip
import html
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from eventlog.history import whole_log
from eventlog.store import event_store
from projector.loop import read_database
from readmodels.models import OrderSummary
from tests.factories import SuperuserFactory
from tests.support.carried_rows import archived_shop, rebuilt, rows_files, tables
from tests.support.services import Service, celery
from tests.support.waiting import eventually

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("cold_storage"),
]
PAGE = "/admin/projections/"
FAST = {"action": "rebuild", "projection": "orders", "from_archive_rows": "1"}


@pytest.fixture
def operator(client: Client) -> Client:
    SuperuserFactory(username="boss")
    client.force_login(User.objects.get(username="boss"))
    return client


def shown(response: Any) -> str:
    assert response.status_code == 200
    return html.unescape(str(response.content.decode()))


def head() -> int:
    return whole_log(event_store()).head_position()


def test_the_rebuild_button_rebuilds_from_archive_rows_when_ticked(operator: Client, cold_storage: Path) -> None:
    archived_shop()
    full, _ = rebuilt()
    assert 'name="from_archive_rows"' in shown(operator.get(PAGE))
    OrderSummary.objects.using(read_database()).all().delete()
    page = shown(operator.post(PAGE, FAST, follow=True))
    assert f"Rebuilt orders from archive rows up to position {head()}." in page
    assert f"orders (from archive rows): done, position {head()} of {head()}" in page
    assert "replaying" not in page
    assert tables() == full
    rows_files(cold_storage)[0].unlink()  # an order archived before rows were carried
    page = shown(operator.post(PAGE, FAST, follow=True))
    assert "Replaying orders in full: archived stream" in page  # said as a warning ...
    assert "<br>replaying orders in full: archived stream" in page  # ... and in the rebuild's progress
    assert tables() == full
    # Unticked, the button replays in full as before: nothing is said about archive rows.
    page = shown(operator.post(PAGE, {"action": "rebuild", "projection": "orders"}, follow=True))
    assert f"Rebuilt orders up to position {head()}." in page
    assert f"orders: done, position {head()} of {head()}" in page
    assert "(from archive rows)" not in page


def test_a_bad_choice_or_a_damaged_rows_file_is_said_and_changes_nothing(operator: Client, cold_storage: Path) -> None:
    archived_shop()
    live = tables()
    page = shown(operator.post(PAGE, {**FAST, "from_archive_rows": "yes"}, follow=True))
    assert "The choice 'from archive rows' is 1 or absent, not 'yes'; nothing was rebuilt." in page
    damaged = rows_files(cold_storage)[0]
    header, body = gzip.decompress(damaged.read_bytes()).split(b"\n", 1)
    damaged.write_bytes(gzip.compress(header + b"\n" + body.replace(b"DELIVERED", b"CANCELLED")))
    page = shown(operator.post(PAGE, FAST, follow=True))
    assert "fail their checksum; nothing was changed. Rebuild without 'from archive rows'" in page
    assert "orders (from archive rows): failed: the rows carried with" in page  # not shown running
    assert tables() == live


def test_the_celery_rebuild_task_rebuilds_from_archive_rows(
    operator: Client, cold_storage: Path, worker_env: None, settings: Any, running: list[Service], tmp_path: Path
) -> None:
    settings.PROJECTIONS_INLINE = True  # the shop projected as it is made; the rebuild queued
    archived_shop()
    full, _ = rebuilt()
    settings.PROJECTIONS_INLINE = False
    worker = celery(
        "worker", tmp_path, ARCHIVE_STORAGE_OPTIONS=json.dumps({"location": str(cold_storage)}), LOG_LEVEL="INFO"
    )
    running.append(worker)
    worker.start()
    OrderSummary.objects.using(read_database()).all().delete()
    page = shown(operator.post(PAGE, FAST, follow=True))
    assert "Rebuild of orders from archive rows queued; progress shows below." in page
    eventually(lambda: "rebuild orders: done" in worker.log.read_text(errors="replace"), log=worker.log)
    log = worker.log.read_text(errors="replace")
    assert "rebuild orders: restoring archived rows" in log
    assert "replaying" not in log
    assert tables() == full
