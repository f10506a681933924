"""`manage.py consume_inbound`: the inbound consumer process (Procfile `consumer`, `make consumer`).

With no INTEGRATION_BROKER_URL (the embedded default) there is nothing to consume: it says so
in one line and exits 0, so `make up` starts without a broker. SIGTERM or SIGINT stop it after
the message in hand is settled.
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

    def handle(self, *args: Any, **options: Any) -> None:
        if not broker.configured():
            self.stdout.write("integration consumer off: INTEGRATION_BROKER_URL is not set")
            return
        consumer = InboundConsumer()

        def stop(signum: int, frame: FrameType | None) -> None:
            consumer.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        def ready() -> None:
            self.stdout.write("integration consumer ready", ending="\n")
            self.stdout.flush()

        consumer.run(ready)
        self.stdout.write("integration consumer stopped")
