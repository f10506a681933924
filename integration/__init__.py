"""Out (and in): the published language other systems read over AMQP.
Owns the event mapping, CloudEvents envelope, relay projection, inbound consumer and its dead letters.
May import orders, inventory, writeside, kernel, projector, eventlog; no sibling of its layer."""
