"""Real processes, as deployed: gunicorn (2 workers) and a Celery worker sharing one
PROMETHEUS_MULTIPROC_DIR. One request's correlation id appears in the JSON log lines of the
web process and of the worker that projected its event, and the web's /metrics shows what
the worker's processes counted."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from prometheus_client.parser import text_string_to_metric_families

from tests.support.http import ORDER_BODY, call
from tests.support.services import Service, celery, web
from tests.support.waiting import eventually


def json_lines(log: Path) -> list[dict[str, Any]]:
    """The log's JSON lines (gunicorn's and Celery's own banners are not ours to parse)."""
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def tasks_succeeded(base: str) -> float:
    text = call(base, "GET", "/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "backoffice_celery_tasks_total" and sample.labels["outcome"] == "succeeded"
    )


@pytest.mark.postgres
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_correlation_id_runs_through_web_and_worker_logs_and_worker_metrics_reach_the_scrape(
    tmp_path: Path, running: list[Service]
) -> None:
    User.objects.create_superuser("ops", "", "a-long-passphrase-for-ops")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOG_FORMAT": "json"}
    server = web(tmp_path, **shared)
    server.args += ["--workers", "2", "--config", "config/gunicorn.py"]
    worker = celery("worker", tmp_path, **shared)
    running.extend([server, worker])
    server.start()
    worker.start()
    base: str = server.url  # type: ignore[attr-defined]

    token = call(base, "POST", "/api/auth/token/", json={"username": "ops", "password": "a-long-passphrase-for-ops"})
    correlation = str(uuid.uuid4())
    created = call(
        base, "POST", "/api/orders/", token.json()["token"], json=ORDER_BODY, headers={"X-Correlation-ID": correlation}
    )
    assert created.status_code == 201, created.text

    def worker_projected() -> bool:
        return any(
            line.get("correlation_id") == correlation and line["logger"] == "projector.loop"
            for line in json_lines(worker.log)
        )

    eventually(worker_projected, timeout=30, message="the worker's projection line", log=worker.log)
    projected = next(line for line in json_lines(worker.log) if line.get("correlation_id") == correlation)
    assert {"time", "level", "message", "position", "stream_id"} <= projected.keys()
    assert projected["stream_id"] == created.json()["order_id"]
    assert projected["task"] == "projector.project_partition"  # the task that applied it
    assert projected["task_id"]

    command_line = next(line for line in json_lines(server.log) if line.get("correlation_id") == correlation)
    assert command_line["command_type"] == "CreateOrder"
    assert command_line["user"] == "ops"
    assert command_line["position"] == created.json()["position"]
    assert command_line["request_id"]  # the request's id, on the command's line

    # The worker's processes counted their tasks in the shared directory; the web serves them.
    eventually(lambda: tasks_succeeded(base) >= 1, timeout=30, message="worker task counts in /metrics")
