"""The benchmarks' app (installed only with BENCH=1, config/settings.py): `manage.py bench`,
and the guarantee switches of bench/settings.py taking effect once, at startup."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class BenchConfig(AppConfig):
    name = "bench"
    verbose_name = "Benchmarks"

    def ready(self) -> None:
        """Install what BENCH_WITHOUT switches off beyond settings (bench/guarantees.py)."""
        from bench.guarantees import install

        install(frozenset(getattr(settings, "BENCH_WITHOUT", ())))
        checks.register(guarantees_off, checks.Tags.security, deploy=True)


def guarantees_off(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """`check --deploy` fails on settings with a guarantee switched off (bench.settings)."""
    off = sorted(getattr(settings, "BENCH_WITHOUT", ()))
    if not off:
        return []
    return [
        checks.Error(
            f"guarantees switched off for a benchmark: {', '.join(off)}",
            hint="bench.settings is for benchmarks only; deploy with config.settings",
            id="bench.E001",
        )
    ]
