"""Read side: what queries answer, projected from the log.
Owns the read-model tables, their projections, selectors, the query bus, search, the admin pages.
May import orders and inventory (their events), web, kernel, pipeline, projector, eventlog; never the write side."""
