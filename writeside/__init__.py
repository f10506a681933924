"""The shared write side: what every bounded context builds its commands on (aggregate,
command and event bases, errors, money, the bus and its middleware, the unit of work, the
repository base, the HTTP plumbing of command endpoints). It knows no context's rules: each
context registers its handlers, repositories and problem types from its AppConfig."""
