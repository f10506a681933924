"""`manage.py inbound_dead_letters`: list the dead-lettered inbound messages, or replay one by
the key the list shows first (integration/dead_letters.py: ids may be shared)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integration import broker
from integration.dead_letters import DEFAULT_LIMIT, dead_messages, replay


class Command(BaseCommand):
    help = "List dead-lettered inbound messages (backoffice.inbound.dead), or replay one by its key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--replay", metavar="KEY", help="send the message with this key to the inbound queue again")
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="how many dead messages to look at")

    def handle(self, *args: Any, **options: Any) -> None:
        if not broker.configured():
            raise CommandError("INTEGRATION_BROKER_URL is not set: there is no inbound queue")
        if options["replay"]:
            try:
                replayed = replay(options["replay"], options["limit"])
            except broker.BROKER_ERRORS as error:
                raise CommandError(f"not replayed ({type(error).__name__}: {error}); it is still dead") from error
            if replayed is None:
                raise CommandError(f"no dead message {options['replay']!r} among the first {options['limit']}")
            self.stdout.write(f"replayed {replayed.message_id or replayed.key}")
            return
        for message in dead_messages(options["limit"]):
            attempts = f"attempts={message.attempts}"
            cells = (message.key, message.message_id, message.routing_key, attempts, message.reason)
            # One line per message, whatever a sender put in its id or a failure in its reason.
            self.stdout.write("\t".join(" ".join(cell.split()) for cell in cells))
