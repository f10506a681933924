"""Where the milliseconds of one API request go, web side and worker side (docs/performance.md).

    DATABASE_URL=... CELERY_BROKER_URL=redis://... .venv/bin/python bench/profile_request.py --orders 200

In one process, through Django's test client (the whole middleware, authentication, DRF and
the command bus, no HTTP server): N orders of bench/spec.py, each its four commands, its
detail and a list page, as bench/http_load.py sends them. After each order, the partition its
events fell in is projected by `run_partition`, the code the Celery task runs, so the worker
side's share is timed too (the doorbells go to a throwaway queue no worker reads, deleted
afterwards). `--new-connection-per-task` closes the database connections before each
`run_partition`, as Celery's fixup did around every task before config/celery.py kept them.

The first quarter of the orders warms caches and prepared statements. Of the rest, every
other order is timed without a profiler (the median ms printed per step) and the others run
under cProfile, whose shares of the step's time (the outermost call of each function below)
are applied to that median: an estimate, since the profiler slows Python more than waiting.
Run it on a benchmark database: it appends orders.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("PROJECTIONS_INLINE", "false")

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402

from bench.spec import STATUSES, order_specs  # noqa: E402

# (label, file part, function): the functions whose cumulative time a step is split into.
PARTS = [
    ("authentication", "knox/auth.py", "authenticate"),
    ("command bus (all of it)", "writeside/bus.py", "handle"),
    ("  unit of work commit", "writeside/unit_of_work.py", "commit"),
    ("  doorbell (cache mark and publish)", "projector/running.py", "ring"),
    ("  event store append", "eventlog/postgres.py", "append"),
    ("  command record", "eventlog/postgres.py", "record"),
    ("query: wait for min_position", "projector/status.py", "wait_until_applied"),
    ("response rendering", "rest_framework/renderers.py", "render"),
    ("worker: one shared batch", "projector/loop.py", "_batch"),
    ("  worker: lock checkpoints", "projector/loop.py", "_lock_checkpoints"),
    ("  worker: read the log", "eventlog/store.py", "read_all"),
    ("  worker: apply (projections)", "projector/loop.py", "apply"),
    ("  worker: checkpoints update", "projector/loop.py", "_move_checkpoints"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--new-connection-per-task", action="store_true")
    options = parser.parse_args(argv)

    from celery import current_app
    from django.contrib.auth import get_user_model
    from knox.models import AuthToken

    from bench.phases.common import delete_queue
    from eventlog.buckets import bucket_of
    from projector.partitions import partition_of_bucket
    from projector.running import run_partition

    queue = f"bench-profile-{uuid.uuid4().hex[:8]}"  # no worker reads it
    current_app.conf.task_default_queue = queue
    user, _ = get_user_model().objects.get_or_create(username="profile", defaults={"is_superuser": True})
    _, token = AuthToken.objects.create(user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    times: dict[str, list[float]] = defaultdict(list)
    profiles: dict[str, cProfile.Profile] = defaultdict(cProfile.Profile)
    profiled: dict[str, list[float]] = defaultdict(list)
    warm = options.orders // 4

    def step(name: str, n: int, call: Callable[..., Any], *args: Any) -> Any:
        began = time.perf_counter()
        profile = n >= warm and n % 2
        result = profiles[name].runcall(call, *args) if profile else call(*args)
        elapsed = (time.perf_counter() - began) * 1000
        if n >= warm:
            (profiled if n % 2 else times)[name].append(elapsed)
        return result

    def project(partition: int) -> bool:
        if options.new_connection_per_task:
            connections.close_all()
        return run_partition(partition)

    def post(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = client.post(path, body or {}, content_type="application/json")
        assert response.status_code in (200, 201), response.content
        return dict(response.json())

    for n, spec in enumerate(order_specs(options.orders, options.seed)):
        lines = [{"sku": x.sku, "quantity": x.quantity, "unit_price": str(x.unit_price)} for x in spec.lines]
        body = {"customer_id": spec.customer_id, "currency": spec.currency, "items": lines}
        created = step("POST /api/orders/", n, post, "/api/orders/", body)
        path = f"/api/orders/{created['order_id']}/"
        step("POST confirm", n, post, path + "confirm/")
        step("POST pay", n, post, path + "pay/", {"payment_id": spec.payment_id, "amount": str(spec.total)})
        ship = {"tracking_number": spec.tracking_number, "carrier": spec.carrier}
        shipped = step("POST ship", n, post, path + "ship/", ship)
        partition = partition_of_bucket(bucket_of(str(created["order_id"])))
        step("worker: run_partition (4 events)", n, project, partition)
        step("GET detail ?min_position=", n, client.get, f"{path}?min_position={shipped['position']}")
        step("GET list ?status=", n, client.get, f"/api/orders/?status={STATUSES[n % len(STATUSES)]}")

    delete_queue(queue)
    print(f"{options.orders} orders; medians of {len(times['POST ship'])} unprofiled orders")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"\n{name}: {median:.2f} ms")
        stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiles[name]).stats  # type: ignore[attr-defined]
        spent = sum(profiled[name])
        for label, file_part, function in PARTS:
            outermost = max(
                (value[3] for (file, _, func), value in stats.items() if func == function and file.endswith(file_part)),
                default=0.0,
            )
            if outermost:
                share = outermost * 1000 / spent
                print(f"    {label:40s} {share * median:7.2f} ms  ({share:4.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
