"""Benchmark phases; each returns a dict of measured figures."""
