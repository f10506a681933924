"""Process, between the contexts: follows the log and sends commands through the bus.
Owns the fulfilment process manager, its state, and payment deadlines and their expiry.
May import orders, inventory, writeside, kernel, projector, eventlog; no sibling of its layer."""
