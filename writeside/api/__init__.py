"""The HTTP plumbing every command endpoint shares: problem+json, parsing, throttles,
Idempotency-Key and If-Match, the command view base."""
