"""The guarantee switches of the benchmarks (bench/guarantees.py, bench/settings.py): the
product's settings cannot turn one off, bench.settings refuses to load outside a benchmark and
names what it removes, and `check --deploy` fails on settings holding one. Each case imports
the settings in a fresh interpreter, as a started process would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from bench import http_compare
from bench.apps import guarantees_off
from bench.guarantee_cost import ALL_ON, cost_us, rotation, summarize
from bench.guarantees import SWITCHES, parse, without

ROOT = Path(__file__).resolve().parents[2]
EVERY = ",".join(SWITCHES)
A_REAL_KEY = "k" * 20 + "0123456789abcdefghijABCDEFGHIJ"
SHOW = (
    "import json; from django.conf import settings as s; import writeside.bus as bus; "
    "print(json.dumps({'without': sorted(getattr(s, 'BENCH_WITHOUT', [])), 'command': s.COMMAND_MIDDLEWARE, "
    "'query': s.QUERY_MIDDLEWARE, 'subscribers': s.EVENT_SUBSCRIBERS, 'http': s.MIDDLEWARE, "
    "'unit_of_work': bus._default_bus and bus._default_bus.uow_factory.__name__}))"
)


def start(settings: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Set Django up with `settings` in a process started with `environment` (no .env file)."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        cwd=ROOT,
        env={**keep, "DJANGO_SETTINGS_MODULE": settings, "ENV_FILE": "", "SECRET_KEY": A_REAL_KEY, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def shown(started: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert started.returncode == 0, started.stderr
    loaded: dict[str, Any] = json.loads(started.stdout)
    return loaded


def test_the_product_settings_keep_every_guarantee_whatever_the_environment_says() -> None:
    product = shown(start("config.settings", BENCH="1", BENCH_WITHOUT=EVERY))

    assert product["without"] == []
    assert "audit.middleware.record_command" in product["command"]
    assert "monitoring.pipeline.log_command" in product["command"]
    assert "projector.dispatch.on_events_committed" in product["subscribers"]
    assert "monitoring.middleware.RequestMetricsMiddleware" in product["http"]
    assert product["unit_of_work"] is None  # the default bus, built on first use with the product's


def test_the_bench_settings_refuse_to_load_outside_a_benchmark() -> None:
    refused = start("bench.settings", BENCH_WITHOUT="audit")

    assert refused.returncode != 0
    assert "bench.settings is for benchmarks only" in refused.stderr


def test_the_bench_settings_refuse_an_unknown_switch() -> None:
    refused = start("bench.settings", BENCH="1", BENCH_WITHOUT="audit,doorbel")

    assert refused.returncode != 0
    assert "unknown guarantee switches ['doorbel']" in refused.stderr


def test_each_switch_removes_what_it_names_and_nothing_else() -> None:
    product = shown(start("bench.settings", BENCH="1"))
    off = shown(start("bench.settings", BENCH="1", BENCH_WITHOUT=EVERY))

    assert product["without"] == []
    assert product["unit_of_work"] is None
    assert off["without"] == sorted(SWITCHES)
    assert off["command"] == []
    assert off["query"] == []
    assert off["subscribers"] == []
    assert [path for path in product["http"] if path not in off["http"]] == [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        "monitoring.middleware.RequestMetricsMiddleware",
    ]
    assert off["unit_of_work"] == "UnrecordedUnitOfWork"


def test_a_switch_whose_setting_lost_its_entry_is_an_error_not_a_silent_no_op() -> None:
    settings = {"COMMAND_MIDDLEWARE": ["monitoring.pipeline.log_command"]}

    with pytest.raises(ValueError, match=r"audit\.middleware\.record_command"):
        without(settings, ["audit"])
    with pytest.raises(ValueError, match="unknown"):
        parse("audit,everything")


def test_check_deploy_fails_on_settings_holding_a_switch() -> None:
    assert guarantees_off(None) == []
    with override_settings(BENCH_WITHOUT=frozenset({"audit"})):
        (error,) = guarantees_off(None)
    assert error.id == "bench.E001"
    assert error.is_serious()


def test_each_variant_takes_each_place_in_turn() -> None:
    variants = [ALL_ON, "audit", "record"]

    orders = [rotation(variants, n) for n in range(3)]

    assert [order[0] for order in orders] == variants
    assert all(sorted(order) == sorted(variants) for order in orders)


def test_the_cost_of_a_guarantee_is_the_time_a_command_it_adds() -> None:
    def run(write: float, write2: float, cpu: float = 1200.0) -> dict[str, Any]:
        writes = {"write": {"commands_per_s": write, "p99_ms": 2.0}, "write2": {"commands_per_s": write2}}
        return {"phases": {**writes, "cpu": {"cpu_us_per_command": cpu}}}

    runs = {ALL_ON: [run(500, 800), run(520, 820), run(480, 780)], "audit": [run(625, 1000, 1000), run(600, 900)]}

    rows = {row["variant"]: row for row in summarize(runs)}

    assert rows["audit"]["medians"]["write.commands_per_s"] == 612.5
    assert rows["audit"]["write_cost_us"] == cost_us(500, 612.5) == 367.3  # 2,000 µs less 1,632.7
    assert rows["audit"]["over_all_on"]["write2.commands_per_s"] == 1.188
    assert rows["audit"]["cpu_cost_us"] == 100  # 1,200 µs of the client's CPU less the median 1,100
    assert rows[ALL_ON]["write_cost_us"] == 0


@pytest.mark.parametrize("switch", ["doorbell", "everything"])
def test_the_http_comparison_refuses_a_switch_it_cannot_measure(
    switch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without the doorbell the worker projects on its catch-up beat only: the reads would time that.
    with pytest.raises(SystemExit) as refused:
        http_compare.main(["--without", f"audit,{switch}"])

    assert refused.value.code == 2
    assert f"unknown ['{switch}']" in capsys.readouterr().err
