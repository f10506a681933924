"""Write side, shared below the contexts: what every bounded context builds its commands on.
Owns the aggregate, command and event bases, errors, money, the bus, unit of work, repository, command plumbing.
May import eventlog and telemetry; knows no context (each registers its handlers, repositories, problems)."""
