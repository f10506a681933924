"""`manage.py bench`: the standard order workload through the real stack, phase by phase."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bench.phases import common
from bench.report import print_report

PHASES = ["write", "write2", "project", "read", "load", "lag"]
EXTRA_PHASES = [
    "cpu",
    "memory",
    "relay_lag",
    "personal",
    "rebuild_live",
    "product_load",
    "archive",
    "relay_translate",
    "scale_out",
]


class Command(BaseCommand):
    help = "Benchmark the standard order workload (see docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        """Options: which phases, the workload's size and rates, output form."""
        parser.add_argument("--orders", type=int, default=2000, help="N orders (4N commands); default 2000")
        parser.add_argument(
            "--phase", action="append", choices=PHASES + EXTRA_PHASES, help="phase to run, repeatable (default: all)"
        )
        parser.add_argument("--reads", type=int, default=4000, help="read phase: OrderDetail reads (pages: 1/4)")
        parser.add_argument("--read-orders", type=int, default=0, help="read phase: grow the read model to this")
        parser.add_argument(
            "--rate", type=float, default=None, help="lag phases: commands per second (100; rebuild_live 50)"
        )
        parser.add_argument("--seconds", type=float, default=20.0, help="lag phases: duration")
        parser.add_argument(
            "--events", type=int, default=1_000_000, help="memory and rebuild_live phases: events in the log"
        )
        parser.add_argument("--days", type=int, default=730, help="archive phase: simulated days of the shop")
        parser.add_argument("--orders-per-day", type=int, default=500, help="archive phase: orders per simulated day")
        parser.add_argument("--archive-every", type=int, default=30, help="archive phase: days between archiver runs")
        parser.add_argument("--archive-after", type=int, default=30, help="archive phase: ARCHIVE_AFTER_DAYS")
        parser.add_argument(
            "--product-events",
            type=int,
            default=100_000,
            help="product_load, relay_translate phases: events of the large product",
        )
        parser.add_argument("--rounds", type=int, default=5, help="cpu phase: rounds of N orders (median)")
        parser.add_argument("--backlog", type=int, default=100_000, help="scale_out phase: events to catch up")
        parser.add_argument(
            "--partitions", default="1,4,16", help="scale_out phase: PROJECTION_PARTITIONS values, comma-separated"
        )
        parser.add_argument("--worker-counts", default="1,2", help="scale_out phase: Celery workers, comma-separated")
        parser.add_argument("--scale-rounds", type=int, default=2, help="scale_out phase: alternating rounds (median)")
        parser.add_argument(
            "--owed-emails", action="store_true", help="scale_out phase: the workers send the emails the backlog owes"
        )
        parser.add_argument("--profile", type=Path, default=None, help="cpu phase: write a cProfile summary here")
        parser.add_argument("--no-doorbell", action="store_true", help="write phases: commit with no subscribers")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--fresh", action="store_true", help="empty the bench database's event log first")
        parser.add_argument("--allow-sqlite", action="store_true", help="run on SQLite anyway (figures mean little)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the selected phases and print tables (or one JSON object)."""
        if connection.vendor != "postgresql" and not options["allow_sqlite"]:
            raise CommandError("Benchmarks run on PostgreSQL: set DATABASE_URL (make bench does) or --allow-sqlite.")
        if options["fresh"]:
            try:
                common.empty_database()
            except RuntimeError as error:
                raise CommandError(str(error)) from error
        selected = options["phase"] or PHASES
        report: dict[str, Any] = {"machine": common.machine(), "orders": options["orders"], "phases": {}}
        # A run with a guarantee switched off (bench/settings.py) says so, and is saved under a
        # name `make bench-report` does not read: it is no figure of the product's.
        off = sorted(getattr(settings, "BENCH_WITHOUT", ()))
        if off:
            report["guarantees_off"] = off
        started = time.perf_counter()
        for phase in selected:
            self.stderr.write(f"bench: {phase} ...")
            began = time.perf_counter()
            report["phases"][phase] = self._run(phase, options)
            self.stderr.write(f"bench: {phase} done in {time.perf_counter() - began:.1f}s")
        report["seconds"] = round(time.perf_counter() - started, 1)
        kind = "-".join(["bench-without", *off]) if off else "bench"
        self.stderr.write(f"bench: report saved to {common.save_report(report, kind)}")
        if options["json"]:
            self.stdout.write(json.dumps(report, default=str))
        else:
            print_report(report)

    def _run(self, phase: str, options: dict[str, Any]) -> dict[str, Any]:
        from bench.phases import load, project, read, write

        orders, seed, ring = options["orders"], options["seed"], not options["no_doorbell"]
        if phase == "write":
            return write.write(orders, seed, ring=ring)
        if phase == "write2":
            return write.write2(orders, seed + 1000, ring=ring)
        if phase == "project":
            return project.project()
        if phase == "cpu":
            from bench.phases.cpu import cpu

            return cpu(orders, seed + 5000, options["rounds"], ring=ring, profile=options["profile"])
        if phase == "read":
            if options["read_orders"]:
                project.synthesize(options["read_orders"] * 4, seed)
                project.project()
                # What autovacuum does to a live table: fresh bulk-loaded rows are not yet in
                # the visibility map, so until then every count visits the heap.
                read.vacuum_read_models()
            return read.read(options["reads"], seed)
        if phase == "load":
            return load.load(seed)
        if phase == "product_load":
            from bench.phases.product_load import product_load

            return product_load(options["product_events"], seed=seed)
        if phase == "relay_translate":
            from bench.phases.relay_translate import relay_translate

            return relay_translate(options["product_events"], seed=seed)
        if phase == "memory":
            return project.memory(options["events"], seed)
        if phase == "archive":
            from bench.phases.archive import archive

            return archive(
                options["days"], options["orders_per_day"], options["archive_every"], options["archive_after"], seed
            )
        if phase == "personal":
            from bench.phases.personal import personal

            return personal(orders, seed)
        from bench.phases.lag import lag

        logs = common.ROOT / "bench" / "results" / "logs"
        if phase == "rebuild_live":
            from bench.phases.rebuild_live import rebuild_live

            return rebuild_live(options["events"], options["rate"] or 50.0, seed + 4000, Path(logs))
        if phase == "scale_out":
            from bench.phases.scale_out import scale_out

            return scale_out(
                options["backlog"],
                [int(value) for value in options["partitions"].split(",")],
                [int(value) for value in options["worker_counts"].split(",")],
                options["scale_rounds"],
                seed + 6000,
                Path(logs),
                owed_emails=options["owed_emails"],
            )
        if phase == "relay_lag":
            from bench.phases.relay_lag import relay_lag

            return relay_lag(options["rate"] or 100.0, options["seconds"], seed + 3000, Path(logs))
        return lag(options["rate"] or 100.0, options["seconds"], seed + 2000, Path(logs))
