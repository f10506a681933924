"""Write side, shared below the contexts: what every bounded context builds its commands on.
Owns the aggregate and command bases, the bus and its middleware shapes, unit of work, repository, command API base.
May import kernel, pipeline, web, eventlog, telemetry; knows no context (each registers its handlers, problems)."""
