"""Edge (both sides' HTTP), below both sides' endpoints: what every API request passes, commands and queries.
Owns problem+json errors and the 400/404/500 handlers, the JSON parser, API middleware, throttles, token authentication.
May import kernel (domain errors, money) and telemetry; never the write side, a context or the read side."""
