"""Demo data for `make run`, beside both sides: a shop (customers, products with stock, a month of orders).
Owns seed_demo, which drives the command bus like any client, and the demo shop's people and goods.
May import orders, inventory, writeside and eventlog; nothing imports it but Django's command loader."""
