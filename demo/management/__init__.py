"""Management commands of the demo app: seed_demo, the shop `make run` shows.
They drive the command bus like any client; nothing else loads them.
See demo/__init__.py."""
