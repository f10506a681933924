"""Every command sent over HTTP has its audit row or does not happen: the longest
Idempotency-Key the API takes is audited whole, and a key it cannot take is a 400 before
anything is read or written."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import CommandAudit
from eventlog.models import CommandRecord, StoredEvent
from tests.support.http import ORDER_BODY, problem

pytestmark = [pytest.mark.postgres, pytest.mark.django_db, pytest.mark.usefixtures("inline", "private_cache")]


def test_the_longest_idempotency_key_commits_with_its_audit_row(admin_client_api: APIClient) -> None:
    key = "k" * 255
    response = admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.content
    row = CommandAudit.objects.get()
    assert (row.command_id, row.outcome, row.user) == (
        CommandRecord.objects.get().command_id,
        "committed",
        "boss",
    )
    assert row.command_id.endswith(":" + key)
    assert row.position == response.json()["position"]


@pytest.mark.parametrize("key", ["k" * 256, "key\x00", "key\x01", "key\x1b[31m", "key\x7f", " "])
def test_an_idempotency_key_the_api_cannot_take_is_400_and_changes_nothing(
    admin_client_api: APIClient, key: str
) -> None:
    response = admin_client_api.post("/api/orders/", ORDER_BODY, format="json", headers={"Idempotency-Key": key})
    assert "Idempotency-Key" in problem(response, 400)["errors"]
    assert not StoredEvent.objects.exists()
    assert not CommandAudit.objects.exists()
