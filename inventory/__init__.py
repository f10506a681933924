"""Write side, a bounded context: products, stock on hand and reservations.
Owns the Product aggregate, its events, commands, handlers, repository and its API.
May import writeside and eventlog; never orders (contexts speak through the bus and the log)."""
