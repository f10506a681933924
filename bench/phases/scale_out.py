"""`scale_out`: how fast 1 and 2 real Celery worker processes catch a backlog up, for each
`PROJECTION_PARTITIONS` (docs/scaling.md, "More Celery workers").

Each run starts from the same log (a synthesized backlog, copied in with no worker running)
and empty read models and checkpoints, starts the workers (separate OS processes, each with
its own database connections, `--concurrency=1`, the product's settings but the partition
count and no emails owed), waits until every one answers a ping, rings every partition's doorbell once, and
times until every projection's checkpoint on every partition has reached the log's head.
A run counts only if OrderSummary and OrderDetail then hold one row per order in the log.
Rounds alternate the worker counts (1, 2 then 2, 1) so a change of the machine's load falls
on both, after one warm-up run that is reported but not counted. Next to events/s each run
records where the CPU went: the workers' process trees, the PostgreSQL backends serving
them (read from /proc, so PostgreSQL must run on this host to be counted), and the whole
machine's busy share.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from django.db import connections
from django.test.utils import override_settings

from bench.phases.common import DERIVED_APPS, empty_database
from bench.phases.lag import _celery, _wait_for_worker, stop_celery
from bench.phases.project import synthesize
from bench.phases.rebuild_live import settle
from config.celery import app as celery_app
from eventlog.store import event_store
from projector.loop import all_partitions, read_database
from projector.models import ProjectionCheckpoint
from projector.registry import all_projections
from projector.running import ring
from readmodels.models import OrderDetail, OrderSummary

TICKS = os.sysconf("SC_CLK_TCK")
POLL_S = 0.2


def scale_out(
    backlog: int,
    partition_counts: list[int],
    worker_counts: list[int],
    rounds: int,
    seed: int,
    logs: Path,
    *,
    owed_emails: bool = False,
) -> dict[str, Any]:
    """Catch-up events/s per (partitions, workers), each run's figures, and per partition
    count the ratio of the most workers to the fewest (medians over the rounds). With
    `owed_emails` the workers also send the emails the backlog owes, as after an outage."""
    if read_database() != "default":
        raise RuntimeError(
            "the scale_out phase empties the read models on the default database: unset READ_DATABASE_URL"
        )
    synthesized = synthesize(backlog, seed)
    settle()
    # Not counted: the first catch-up after the log was written cost the worker 2.4x the
    # CPU of every later one in the first smoke run (cause not pinned down).
    warm_up = catch_up(partition_counts[0], worker_counts[0], logs, owed_emails=owed_emails)
    runs: list[dict[str, Any]] = []
    for round_number in range(rounds):
        order = worker_counts if round_number % 2 == 0 else list(reversed(worker_counts))
        for partitions in partition_counts:
            for workers in order:
                runs.append({"round": round_number + 1, **catch_up(partitions, workers, logs, owed_emails=owed_emails)})
    return {
        "events": event_store().head_position(),
        "synthesized": synthesized,
        "owed_emails": owed_emails,
        "prefetch_multiplier": os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "default"),
        "warm_up": warm_up,
        "runs": runs,
        "summary": summary(runs, partition_counts, worker_counts),
    }


def catch_up(
    partitions: int, workers: int, logs: Path, *, owed_emails: bool = False, deadline_s: float = 600.0
) -> dict[str, Any]:
    """One run: empty read models, `workers` workers on `partitions` partitions, one ring
    each, until every checkpoint is at the head; events/s and where the CPU went."""
    empty_database(apps=DERIVED_APPS)
    # Checkpoint rows at 0, as a live system has them (from its first batches, or from
    # rebuild_projections after a change of PROJECTION_PARTITIONS). Without them a partition's
    # first task catches each projection up alone for up to PROJECTION_MAX_BATCHES_PER_TASK
    # batches (projector.running), reading and decoding the log once per projection: on 4 and
    # 16 partitions that was the whole backlog, 1.8x the worker CPU of 1 partition.
    ProjectionCheckpoint.objects.using(read_database()).bulk_create(
        ProjectionCheckpoint(projection=name, partition=partition)
        for name in all_projections()
        for partition in range(partitions)
    )
    with connections["default"].cursor() as cursor:
        cursor.execute("CHECKPOINT")  # the last run's read-model writes are not this run's to flush
    queue = f"bench-scale-{uuid.uuid4().hex[:8]}"
    previous, celery_app.conf.task_default_queue = celery_app.conf.task_default_queue, queue
    logs.mkdir(parents=True, exist_ok=True)
    nodes = [f"{queue}-{n}" for n in range(workers)]
    processes = [
        _celery(
            "worker",
            queue,
            logs / f"scale-{partitions}p-{workers}w-{n}.log",
            node=node,
            concurrency=1,
            PROJECTION_PARTITIONS=str(partitions),
            # As `project` does: the copied events are minutes old, so every order would owe
            # its emails, and the sender (notifications.send, rung after each batch, on the
            # same queue) composed 25,000 of them inside the measured catch-up in the first
            # try, while two partitions' tasks waited (presumably prefetched by its worker)
            # and the other worker idled. The projection writes the same rows, recorded as
            # expired.
            **({} if owed_emails else {"NOTIFICATION_MAX_AGE_SECONDS": "0"}),
        )
        for n, node in enumerate(nodes)
    ]
    try:
        for node, process in zip(nodes, processes, strict=True):
            _wait_for_worker(queue, process, deadline_s=60.0, node=node)
        head = event_store().head_position()
        load = os.getloadavg()[0]
        machine_before = _machine_ticks()
        workers_before = [_tree_ticks(process.pid) for process in processes]
        start = time.perf_counter()
        with override_settings(PROJECTION_PARTITIONS=partitions):
            for partition in all_partitions():
                ring(partition, always=True)
            _wait_until_caught_up(partitions, processes, start + deadline_s)
        seconds = time.perf_counter() - start
        machine_after = _machine_ticks()
        # Each worker's own share says whether the second one had work at all.
        worker_cpu = [
            (_tree_ticks(p.pid) - before) / TICKS for p, before in zip(processes, workers_before, strict=True)
        ]
        # The backends were opened by the workers during the run (the workers had no query
        # before it), so their whole CPU time is the run's.
        backend_cpu_s = _backend_ticks() / TICKS
    finally:
        stop_celery(processes, queue, previous)
    busy = machine_after[0] - machine_before[0]
    total = machine_after[1] - machine_before[1]
    orders, summaries, details = _order_counts()
    if not orders == summaries == details:
        raise RuntimeError(
            f"read models wrong after catch-up: {orders} orders, {summaries} summaries, {details} details"
        )
    return {
        "partitions": partitions,
        "workers": workers,
        "events": head,
        "seconds": round(seconds, 2),
        "events_per_s": round(head / seconds, 1),
        "load_average_1m": round(load, 2),
        "worker_cpu_s": round(sum(worker_cpu), 2),
        "worker_cpu_s_each": [round(seconds, 2) for seconds in worker_cpu],
        "postgres_cpu_s": round(backend_cpu_s, 2),
        "machine_busy_share": round(busy / total, 3) if total else None,
        "orders": orders,
    }


def _wait_until_caught_up(partitions: int, processes: list[Any], deadline: float) -> None:
    """Poll the checkpoints until every projection's row on every partition is at the head
    (read again each time: the process manager may append)."""
    expected = len(all_projections()) * partitions
    rows = ProjectionCheckpoint.objects.using(read_database())
    while time.perf_counter() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a scale_out worker exited during the run; see its log")
        positions = list(rows.values_list("position", flat=True))
        if len(positions) == expected and min(positions) >= event_store().head_position():
            return
        time.sleep(POLL_S)
    raise RuntimeError(f"the catch-up on {partitions} partitions did not finish in time")


def _order_counts() -> tuple[int, int, int]:
    """Orders in the log, and rows of OrderSummary and OrderDetail."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT stream_id) FROM eventlog_storedevent WHERE event_type = 'OrderCreated'")
        orders = int(cursor.fetchone()[0])
    using = read_database()
    return orders, OrderSummary.objects.using(using).count(), OrderDetail.objects.using(using).count()


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot; idle and iowait are not busy."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def _process_ticks(pid: int) -> int:
    """utime + stime of a process, 0 if it is gone or not visible."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return int(fields[11]) + int(fields[12])


def _tree_ticks(pid: int) -> int:
    """CPU ticks of a process and its descendants (a prefork worker's pool children)."""
    total = _process_ticks(pid)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(_tree_ticks(int(child)) for child in children)
    return total


def _backend_ticks() -> int:
    """CPU ticks of the PostgreSQL backends connected to this database, but this process's."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        pids = [int(row[0]) for row in cursor.fetchall()]
    return sum(_process_ticks(pid) for pid in pids)


def summary(runs: list[dict[str, Any]], partition_counts: list[int], worker_counts: list[int]) -> list[dict[str, Any]]:
    """Per partition count: the median events/s of each worker count, and most / fewest."""
    rows = []
    for partitions in partition_counts:
        medians = {
            workers: statistics.median(
                run["events_per_s"] for run in runs if (run["partitions"], run["workers"]) == (partitions, workers)
            )
            for workers in worker_counts
        }
        fewest, most = medians[min(worker_counts)], medians[max(worker_counts)]
        rows.append(
            {
                "partitions": partitions,
                **{f"events_per_s_{workers}w": round(value, 1) for workers, value in medians.items()},
                "ratio": round(most / fewest, 2) if fewest else None,
            }
        )
    return rows
