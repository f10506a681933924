"""`python -m tests.soak.run --minutes N --seed S`: the chaos soak (see the package docstring).

The schedule comes from the seed: rounds in which every kind of fault happens once, in a
shuffled order, a few seconds apart, until the time is up (so even the shortest soak injects
each kind at least once). After each fault the soak measures how long until every projection
is again less than a second behind the log, and whether the process it killed came back. At
the end it stops the traffic, waits for the read side and the inbound queue to drain, and
proves the books:

- every order a client was told about is in the read models, in the status its acknowledged
  commands and its partner messages put it in (nothing lost);
- no stream holds one kind of lifecycle event twice (nothing applied twice, whatever was
  retried or redelivered);
- every hostile partner message is a dead letter, and no other one is;
- `manage.py verify` finds nothing (read models equal a rebuild, every public event
  published, nothing of a forgotten customer readable, every command audited);
- every process runs, and the only restarts are of the processes the soak killed.

It prints the report as JSON (and writes it to --report) and exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CUTS = ("postgres", "redis", "rabbitmq")
FAULTS = (
    *(f"cut:{s}" for s in CUTS),
    *(f"reset:{s}" for s in ("redis", "rabbitmq")),
    "kill:web",
    "kill:worker",
    "kill:beat",
    "kill:consumer",
)
RECOVERY_SECONDS = 30.0  # the target: lag back under 1 s within this long after a fault ends
CATCH_UP_SECONDS = 240.0  # the end's wait for the read side and the inbound queue to drain
WARM_UP_COMMANDS = 40  # answered before the first fault and the first memory figures


def _django(database_url: str, amqp_url: str) -> None:
    """The soak's own view of the services: direct, never through a proxy it cuts. The broker
    URL only makes the relay one of the projections whose lag is watched."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["INTEGRATION_BROKER_URL"] = amqp_url
    for name in ("READ_DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "soak-" + "x" * 60)
    import django

    django.setup()


def max_lag_seconds() -> float | None:
    """The largest lag of any projection now (None when the database did not answer)."""
    from django.db import connections

    from projector.status import projection_status

    try:
        return max((status.lag_seconds for status in projection_status()), default=0.0)
    except Exception:
        connections.close_all()
        return None


class StackDown(Exception):
    """`make up` itself exited: nothing restarts anything any more."""


class Watch:
    """Each role's restarts, as its supervisor logs them (`make up`'s `ops/keep-running`:
    "<role>.1 | keep-running: started <name> (pid N)" and "... exited with status ..."), the
    pid it started last, and whether `make up` itself still runs. A restart is expected only
    after the soak killed that role."""

    LINE = re.compile(r"^\S+ (\w+)\.\d+\s+\| keep-running: (?:started \S+ \(pid (\d+)\)|(\S+) exited)")

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.offset = 0
        self.pids: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.killed: dict[str, int] = {}
        self.poll()

    def poll(self) -> None:
        if self.stack.process.poll() is not None:
            raise StackDown(f"make up exited with {self.stack.process.returncode}")
        with self.stack.log.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            found = self.LINE.match(line)
            if found is None:
                continue
            role, pid, exited = found.groups()
            self.restarts.setdefault(role, 0)
            self.killed.setdefault(role, 0)
            if pid is not None:
                self.pids[role] = int(pid)
            if exited is not None:
                self.restarts[role] += 1

    def unexpected(self) -> dict[str, int]:
        return {role: n - self.killed[role] for role, n in self.restarts.items() if n > self.killed[role]}


def inject(fault: str, stack: Any, services: Any, rng: random.Random, watch: Watch) -> dict[str, Any]:
    """One fault; returns what was done. A cut lasts 2 to 8 seconds; a reset drops every
    connection at once and lets new ones in straight away."""
    kind, target = fault.split(":")
    record: dict[str, Any] = {"fault": fault, "at": round(time.monotonic(), 1)}
    if kind == "kill":
        record["pid"] = stack.kill(target)
        watch.killed[target] = watch.killed.get(target, 0) + 1
        return record
    proxy = services.proxies[target]
    proxy.cut()
    if kind == "cut":
        seconds = rng.uniform(2, 8)
        record["seconds"] = round(seconds, 1)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            watch.poll()
            time.sleep(0.2)
    proxy.restore()
    return record


def recover(fault: dict[str, Any], watch: Watch) -> None:
    """Wait (bounded) for lag under 1 s and for a killed process to be back; record how long."""
    started = time.monotonic()
    role = fault["fault"].split(":")[1] if fault["fault"].startswith("kill:") else None
    back = role is None
    while time.monotonic() - started < RECOVERY_SECONDS * 3:
        watch.poll()
        if role is not None and not back and watch.pids.get(role) not in (None, fault.get("pid")):
            back = True
            fault["restarted_after_s"] = round(time.monotonic() - started, 1)
        lag = max_lag_seconds()
        if back and lag is not None and lag < 1.0:
            fault["lag_under_1s_after_s"] = round(time.monotonic() - started, 1)
            return
        time.sleep(0.5)
    fault["lag_under_1s_after_s"] = None


def rss(stack: Any) -> dict[str, int]:
    from tests.soak.stack import ROLES, rss_kib

    return {role: rss_kib(stack.members(role)) for role in ROLES}


def settle(stack: Any, tally: Any, services: Any) -> dict[str, Any]:
    """After the traffic: wait for the inbound queue and the read side, then check the books."""
    from kombu import Connection

    from eventlog.models import StoredEvent
    from readmodels.models import OrderSummary

    deadline = time.monotonic() + CATCH_UP_SECONDS
    mismatched: dict[str, tuple[str, str | None]] = {}
    while time.monotonic() < deadline:
        rows = OrderSummary.objects.filter(order_id__in=list(tally.expected)).values_list("order_id", "status")
        statuses = {str(order_id): status for order_id, status in rows}
        mismatched = {
            order_id: (expected, statuses.get(order_id))
            for order_id, expected in tally.expected.items()
            if statuses.get(order_id) != expected
        }
        if not mismatched and max_lag_seconds() == 0.0:
            break
        time.sleep(1)
    with Connection(services.amqp_url) as connection:
        channel: Any = connection.channel()
        dead = channel.queue_declare("backoffice.inbound.dead", passive=True).message_count
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT stream_id, event_type, count(*) FROM {StoredEvent._meta.db_table} WHERE stream_type = 'order' "
            "GROUP BY stream_id, event_type HAVING count(*) > 1"
        )
        doubled = [list(row) for row in cursor.fetchall()]
    verify = stack.manage("verify", env={"DATABASE_URL": services.database_url})
    return {
        "orders": len(tally.expected),
        "orders_not_as_expected": {k: list(v) for k, v in list(mismatched.items())[:20]},
        "orders_not_as_expected_count": len(mismatched),
        "doubled_events": doubled[:20],
        "inbound_dead_letters": dead,
        "hostile_sent": len(tally.hostile),
        "verify_exit": verify.returncode,
        "verify_output": (verify.stdout + verify.stderr)[-4000:],
    }


def soak(minutes: float, seed: int, workdir: Path, hostile_rate: float) -> dict[str, Any]:
    from tests.soak.stack import Services, running
    from tests.soak.traffic import Tally, drive

    rng = random.Random(seed)
    end_at = time.monotonic() + minutes * 60
    report: dict[str, Any] = {"seed": seed, "minutes": minutes, "faults": []}
    with Services() as services:
        _django(services.database_url, services.amqp_url)
        extra = {"THROTTLE_COMMANDS": "1000000/min", "THROTTLE_QUERIES": "1000000/min"}
        with running(services, workdir, extra) as stack:
            seeded = stack.manage("seed_demo", "--admin", "--orders", "0")
            if seeded.returncode:
                raise RuntimeError(seeded.stderr)
            import requests

            token = requests.post(
                f"{stack.base}/api/auth/token/", json={"username": "admin", "password": "admin"}, timeout=10
            ).json()["token"]
            stop = threading.Event()
            tally = Tally()
            traffic = threading.Thread(
                target=drive,
                args=(tally, stack.base, token, services.amqp_url, "backoffice.inbound", stop, seed, 2, 2.0),
                kwargs={"hostile_rate": hostile_rate},
                daemon=True,
            )
            traffic.start()
            watch = Watch(stack)
            # Warm-up: the first figures are of a stack that has served traffic.
            warm_by = time.monotonic() + 60
            while tally.commands() < WARM_UP_COMMANDS:
                if time.monotonic() > warm_by:
                    raise RuntimeError(f"the stack answered {tally.commands()} commands in its first minute")
                watch.poll()
                time.sleep(0.2)
            report["rss_kib_start"] = rss(stack)
            faults: list[str] = []
            try:
                while time.monotonic() < end_at or len(report["faults"]) < len(FAULTS):
                    if not faults:
                        faults = list(FAULTS)
                        rng.shuffle(faults)
                    fault = inject(faults.pop(), stack, services, rng, watch)
                    report["faults"].append(fault)
                    recover(fault, watch)
                    pause_until = time.monotonic() + rng.uniform(2, 6)
                    while time.monotonic() < pause_until:
                        watch.poll()
                        time.sleep(0.2)
            except StackDown as down:
                stop.set()
                report["stack_down"] = str(down)
                report["failures"] = [f"the stack went down and stayed down: {down}"]
                return report
            report["rss_kib_end"] = rss(stack)
            stop.set()
            traffic.join(200)
            report["commands"] = tally.commands()
            report["answers"] = dict(tally.answers)
            report["client_retries"] = tally.retries
            report["given_up"] = tally.given_up
            report["inbound_sent"] = dict(tally.inbound_sent)
            report["books"] = settle(stack, tally, services)
            watch.poll()
            report["restarts"] = watch.restarts
            report["unexpected_restarts"] = watch.unexpected()
            report["running_at_end"] = sorted(stack.mains())
    report["failures"] = failures(report)
    return report


def failures(report: dict[str, Any]) -> list[str]:
    """Every check the soak makes, as a sentence when it fails."""
    from tests.soak.stack import ROLES

    books, found = report["books"], []
    if report["given_up"]:
        found.append(f"clients gave up on {len(report['given_up'])} commands")
    if books["orders_not_as_expected_count"]:
        found.append(f"{books['orders_not_as_expected_count']} orders not in the status their commands put them in")
    if books["doubled_events"]:
        found.append(f"events applied twice: {books['doubled_events']}")
    if books["inbound_dead_letters"] != books["hostile_sent"]:
        found.append(
            f"{books['inbound_dead_letters']} inbound dead letters for {books['hostile_sent']} hostile messages"
        )
    if books["verify_exit"] != 0:
        found.append("manage.py verify found divergences")
    if set(report["running_at_end"]) != set(ROLES):
        found.append(f"not running at the end: {set(ROLES) - set(report['running_at_end'])}")
    slow = [
        f["fault"]
        for f in report["faults"]
        if f.get("lag_under_1s_after_s") is None or f["lag_under_1s_after_s"] > RECOVERY_SECONDS
    ]
    if slow:
        found.append(f"lag not under 1 s within {RECOVERY_SECONDS:.0f} s of: {slow}")
    if report["unexpected_restarts"]:
        found.append(f"processes restarted without being killed: {report['unexpected_restarts']}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "10")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "1")))
    parser.add_argument("--hostile-rate", type=float, default=0.05)
    parser.add_argument("--report", type=Path, default=None)
    options = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="soak-") as workdir:
        try:
            report = soak(options.minutes, options.seed, Path(workdir), options.hostile_rate)
        finally:
            log = Path(workdir) / "stack.log"
            if log.exists() and options.report is not None:
                with contextlib.suppress(OSError):
                    options.report.with_suffix(".log").write_bytes(log.read_bytes())
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if options.report is not None:
        options.report.write_text(text)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
