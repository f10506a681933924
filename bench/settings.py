"""Benchmark-only settings: the product's (config/settings.py) with the guarantees that
BENCH_WITHOUT names switched off (bench/guarantees.py), to measure what each costs.

    BENCH=1 BENCH_WITHOUT=audit DJANGO_SETTINGS_MODULE=bench.settings manage.py bench ...

Refuses to load unless BENCH=1 (the Makefile's bench targets set it): a deployment pointing
DJANGO_SETTINGS_MODULE here by mistake fails at startup instead of running without a guarantee;
`check --deploy` fails on it too (bench/apps.py).
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F403 -- the product's settings, changed below only as asked
from config.settings import env

if not env.bool("BENCH", default=False):
    raise ImproperlyConfigured("bench.settings is for benchmarks only: set BENCH=1 (the Makefile's bench targets do)")

# After the refusal: outside a benchmark nothing more is imported.
from bench.guarantees import parse, without

try:
    BENCH_WITHOUT = parse(os.environ.get("BENCH_WITHOUT", ""))
    without(globals(), BENCH_WITHOUT)
except ValueError as error:
    raise ImproperlyConfigured(f"BENCH_WITHOUT: {error}") from error
