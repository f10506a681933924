"""The command plumbing over the HTTP edge (web/): the CommandView base every command endpoint
extends, who may send which command, and the headers a command takes (Idempotency-Key,
If-Match, X-Correlation-ID) as the bus's options."""
