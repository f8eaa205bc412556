"""deploy/grafana/*.json: valid dashboards whose every query names metrics the server exports.

The names come from a scrape of the server's own registry (every feature installed), parsed
with prometheus_client's parser: a metric renamed in the collector fails here, not on a
court's wall screen.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hearing_server.metrics import ServerMetrics
from support.metrics import every_source

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
METRIC = re.compile(r"\b((?:hearing_server|process|python)_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b([a-z_][a-z0-9_]*)\{([^}]*)\}")
RATE = re.compile(r"\b(?:rate|irate|increase)\(\s*([a-z_][a-z0-9_]*)")
# added by Prometheus at scrape time, not by the server
TARGET_LABELS = {"instance", "job"}


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """Sample name -> the label names it carries, from a real render of the registry."""
    body, _ = asyncio.run(ServerMetrics(every_source()).render())
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, query) for every panel target and templating query."""
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]
            found.append(
                (f"variable {var['name']}", query["query"] if isinstance(query, dict) else query)
            )
    return found


def test_there_is_a_dashboard() -> None:
    assert DASHBOARDS, "no dashboard in deploy/grafana/"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} queries nothing"
        for target in panel["targets"]:
            assert METRIC.search(target["expr"]), f"{panel['title']!r}: {target['expr']}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_names_exported_metrics(path: Path, exported: dict[str, set[str]]) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    for where, query in _queries(dashboard):
        for name in METRIC.findall(query):
            assert name in exported, f"{where}: {name} is not exported ({query})"
        for name, matchers in SELECTOR.findall(query):
            labels = {m.split("=")[0].strip().rstrip("!~") for m in matchers.split(",") if m}
            unknown = labels - exported.get(name, set()) - TARGET_LABELS
            assert not unknown, f"{where}: {name} has no label {unknown}"
        for name in RATE.findall(query):
            assert name.endswith("_total"), f"{where}: rate() of {name}, not a counter"


def test_the_rules_catch_a_renamed_metric(exported: dict[str, set[str]]) -> None:
    # the checks above are not vacuous: a name the server does not export is noticed
    assert "hearing_server_media_forwarded_packets_total" in exported
    assert "hearing_server_forwarded_packets_total" not in exported
    assert METRIC.findall("rate(hearing_server_forwarded_packets_total[1m])") == [
        "hearing_server_forwarded_packets_total"
    ]
