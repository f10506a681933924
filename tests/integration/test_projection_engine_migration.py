"""Moving checkpoints and dead letters from `readmodels` to the engine's app touches no table
and keeps every permission a user or group was granted on them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from projector.loop import read_database
from projector.models import ProjectionCheckpoint
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BEFORE_MOVE = [("readmodels", "0006_orderdetail_timeline_count"), ("projector", None)]


def migrate(target: list[tuple[str, str | None]] | None = None) -> Any:
    """Migrate the database the engine's tables live on; the apps at `target`."""
    executor = MigrationExecutor(connections[read_database()])
    targets = target or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return executor.loader.project_state([(app, name) for app, name in targets if name is not None]).apps


@pytest.mark.parametrize("new_types_exist", [False, True], ids=["one database", "post_migrate ran first"])
def test_grants_and_rows_survive_the_move(new_types_exist: bool) -> None:
    old = migrate(BEFORE_MOVE)
    try:
        old.get_model("readmodels", "ProjectionCheckpoint").objects.using(read_database()).create(
            projection="orders", partition=3, position=42
        )
        granted = Permission.objects.filter(
            content_type__app_label="readmodels", codename__in=["view_deadletter", "change_deadletter"]
        )
        user = StaffUserFactory()
        user.user_permissions.set(granted)
        assert len(granted) == 2
        if new_types_exist:  # as post_migrate on the default database does before the read one migrates
            for model in ("deadletter", "projectioncheckpoint"):
                fresh = ContentType.objects.create(app_label="projector", model=model)
                Permission.objects.create(content_type=fresh, codename=f"view_{model}", name="fresh")
    finally:
        migrate()
    user.refresh_from_db()
    user = type(user).objects.get(pk=user.pk)  # no permission cache
    assert user.has_perm("projector.view_deadletter")
    assert user.has_perm("projector.change_deadletter")
    assert not ContentType.objects.filter(app_label="readmodels", model__in=["deadletter", "projectioncheckpoint"])
    assert Permission.objects.filter(content_type__app_label="projector", codename="view_deadletter").count() == 1
    assert ProjectionCheckpoint.objects.get(projection="orders", partition=3).position == 42
