"""ops/alerts.yml parses as Prometheus rule groups (promtool is not available here): every rule
has a name, an expression, a duration, a severity and a runbook section that exists in
docs/operations.md, and reads only metrics the app really serves (names taken from
prometheus_client's parse of a real /metrics)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.support.markdown import anchors

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\b((?:backoffice|django)_[a-z0-9_]+)\b")
DURATION = re.compile(r"^\d+[smh]$")


@pytest.mark.django_db
def test_every_alert_rule_is_well_formed_and_reads_served_metrics() -> None:
    rules = [
        rule for group in yaml.safe_load((ROOT / "ops/alerts.yml").read_text())["groups"] for rule in group["rules"]
    ]
    families = list(text_string_to_metric_families(Client().get("/metrics").content.decode()))
    # A labelled counter nobody has incremented yet has no samples, but its family is served.
    served = {family.name + ("_total" if family.type == "counter" else "") for family in families}
    served |= {sample.name for family in families for sample in family.samples}
    sections = anchors((ROOT / "docs/operations.md").read_text())
    assert len(rules) >= 4
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
        assert DURATION.match(rule["for"]), rule
        assert rule["labels"]["severity"] in {"page", "ticket"}
        page, _, section = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md"
        assert section in sections, f"{rule['alert']}: no section #{section}"
        names = set(METRIC.findall(rule["expr"]))
        assert names, rule
        # A counter is served as name_total; a rule must use a name the scrape really has.
        assert names <= served, f"{rule['alert']} reads {names - served}, not served"
