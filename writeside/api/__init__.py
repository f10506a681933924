"""The command plumbing under the HTTP edge (web/): who may send which command, and the
headers a command takes (Idempotency-Key, If-Match, X-Correlation-ID) as the bus's options."""
