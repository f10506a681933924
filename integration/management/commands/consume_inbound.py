"""`manage.py consume_inbound`: the inbound consumer process (Procfile `consumer`, `make consumer`).

With no INTEGRATION_BROKER_URL (the embedded default) there is nothing to consume: it says so
in one line and exits 0; with `--idle-when-off` (the Procfile's line) it then waits for SIGTERM
instead, because honcho stops every process as soon as one exits, and `make up` must run
without a broker. SIGTERM or SIGINT stop it after the message in hand is settled.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from integration import broker
from integration.consumer import InboundConsumer


class Command(BaseCommand):
    help = "Turn payment and shipment events from the inbound queue into commands."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--idle-when-off", action="store_true", help="with no broker, wait for SIGTERM instead of exiting"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = InboundConsumer()

        def stop(signum: int, frame: FrameType | None) -> None:
            consumer.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if not broker.configured():
            self.stdout.write("integration consumer off: INTEGRATION_BROKER_URL is not set")
            self.stdout.flush()
            if options["idle_when_off"]:
                consumer.stopping.wait()
            return

        def ready() -> None:
            self.stdout.write("integration consumer ready", ending="\n")
            self.stdout.flush()

        consumer.run(ready)
        self.stdout.write("integration consumer stopped")
