"""Write side, a bounded context: products, stock on hand and reservations.
Owns the Product aggregate, its events, commands, handlers, repository, its API and admin command.
May import writeside, web, kernel and eventlog; never orders (contexts speak through the bus and the log)."""
