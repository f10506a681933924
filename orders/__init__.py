"""Write side, a bounded context: the order from placing to delivery, and forgetting a customer.
Owns the Order aggregate and state, its events, commands, handlers, repository, command API and admin.
May import writeside, web, kernel and eventlog; never inventory (contexts speak through the bus and the log)."""
