"""The projector's tasks are named by their package, and a worker still runs a message queued
under a former name (`readmodels.*`), as one queued before a deploy; a default rebuild's message
is one an older worker, whose task lacks the newer keywords, still accepts."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from config.celery import app as celery_app
from projector.loop import all_partitions
from projector.tasks import FORMER_NAMES, REBUILD
from tests.factories import SuperuserFactory
from tests.support.convergence import converged
from tests.support.services import celery, empty_queue, taken_messages
from tests.support.waiting import eventually
from tests.support.workload import drive_orders

pytestmark = [pytest.mark.postgres, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_tasks_are_named_by_the_package_that_owns_them() -> None:
    celery_app.loader.import_default_modules()
    names = set(celery_app.tasks)
    assert {"projector.project_partition", "projector.catch_up", "projector.rebuild"} <= names
    assert set(FORMER_NAMES.values()) <= names
    assert celery_app.conf.beat_schedule["catch-up-projections"]["task"] == "projector.catch_up"


def test_a_message_queued_under_a_former_name_still_runs(worker_env: None, tmp_path: Path) -> None:
    drive_orders(6, seed=5)
    # Only messages under the former names wait: the new names' doorbells are dropped, so
    # nothing but the old-named tasks can bring the read models up to date.
    empty_queue()
    sent = [celery_app.send_task("readmodels.project_partition", (partition,)).id for partition in all_partitions()]
    sent.append(celery_app.send_task("readmodels.catch_up").id)
    worker = celery("worker", tmp_path)
    worker.start()
    try:
        eventually(converged, message="the old-named doorbells to project")

        def all_ran() -> bool:
            log = worker.log.read_text(errors="replace")
            return all(f"[{task_id}] succeeded" in log for task_id in sent)

        eventually(all_ran, message="every old-named message to run", log=worker.log)
        assert "unregistered task" not in worker.log.read_text(errors="replace")
    finally:
        worker.stop()


def rebuild_before_from_archive_rows(names: list[str]) -> None:
    """The rebuild task's function as the release before `from_archive_rows` had it."""


def test_a_default_rebuild_is_a_message_an_older_worker_accepts(worker_env: None, client: Client) -> None:
    # The admin's Rebuild button of a new web process, while older workers still take messages
    # (a rolling deploy): only a ticked "from archive rows" may need the new release.
    SuperuserFactory(username="boss")
    client.force_login(User.objects.get(username="boss"))
    for ticked in [{}, {"from_archive_rows": "1"}]:
        client.post("/admin/projections/", {"action": "rebuild", "projection": "orders", **ticked})
        rebuilds = [(args, kwargs) for name, args, kwargs in taken_messages() if name == REBUILD]
        assert len(rebuilds) == 1
        args, kwargs = rebuilds[0]
        assert args == [["orders"]]
        if ticked:
            # Only the new release runs it (its worker does: test_archive_rows_operated).
            assert kwargs == {"from_archive_rows": True}
            with pytest.raises(TypeError):
                inspect.signature(rebuild_before_from_archive_rows).bind(*args, **kwargs)
        else:
            assert kwargs == {}
            inspect.signature(rebuild_before_from_archive_rows).bind(*args, **kwargs)
