"""Shared below both sides: the message pipeline the command bus and the query bus both run.
Owns the middleware chain (`chain.py`: a core wrapped in middleware) and reading it from a setting.
Imports no project package (Django's settings only, when a chain is configured)."""
