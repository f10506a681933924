"""Shared kernel, below both sides: the language the write side records and the read side reads.
Owns the domain event base and its text rule, the kinds of domain error, money in ISO 4217 minor units.
Imports no project package and no framework (an import contract keeps it so)."""
