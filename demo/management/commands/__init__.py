"""seed_demo: products with stock and a month of orders in every state, through the bus
(demo/management/commands/seed_demo.py), with the people and goods of demo/shop.py.
For `make seed` and `make run` only."""
