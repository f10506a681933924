"""`manage.py inbound_dead_letters`: list the dead-lettered inbound messages, or replay one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integration import broker
from integration.dead_letters import DEFAULT_LIMIT, dead_messages, replay


class Command(BaseCommand):
    help = "List dead-lettered inbound messages (backoffice.inbound.dead), or replay one by message id."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--replay", metavar="MESSAGE_ID", help="send this message to the inbound exchange again")
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="how many dead messages to look at")

    def handle(self, *args: Any, **options: Any) -> None:
        if not broker.configured():
            raise CommandError("INTEGRATION_BROKER_URL is not set: there is no inbound queue")
        if options["replay"]:
            if not replay(options["replay"], options["limit"]):
                raise CommandError(f"no dead message {options['replay']!r} among the first {options['limit']}")
            self.stdout.write(f"replayed {options['replay']}")
            return
        for message in dead_messages(options["limit"]):
            self.stdout.write(
                f"{message.message_id}\t{message.routing_key}\tattempts={message.attempts}\t{message.reason}"
            )
