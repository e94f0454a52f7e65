"""Our Grafana dashboard and Prometheus alerts name only series a real worker exports, with labels it really
sets. The names are read from a worker's /metrics after it ran a breaching case on the dev server: the SDK's
Prometheus exporter adds no `_total` to our counters, and turns histograms into `_bucket`/`_sum`/`_count`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from case_fixtures import blockit_request
from support import start_case
from test_metrics import scrape

from starter.client import connect
from starter.devserver import DevServer, free_port
from worker import WorkerSettings, build_worker, metrics_runtime

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "supportflow" / "supportflow.json").read_text())
ALERTS = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
# Series Prometheus itself makes, and labels it adds to every scraped one (or that every histogram has).
PROMETHEUS_SERIES = {"up"}
PROMETHEUS_LABELS = {"instance", "job", "le"}
# Failure and audit counters a healthy run never increments, so a scrape does not show them; their names are
# the documented ones (docs/operations.md, "Metrics").
ONLY_ON_TROUBLE = {"temporal_workflow_task_execution_failed", "supportflow_audit_missed_deadlines"}
FUNCTIONS_AND_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "rate", "increase", "histogram_quantile", "clamp_min",
    "absent", "vector", "and", "or", "unless", "on", "ignoring", "bool", "offset", "label_values",
}  # fmt: skip


_SCRAPED: dict[str, set[str]] = {}


@pytest.fixture
async def exported(tmp_path, policies, smtp_receiver, twilio_receiver, monkeypatch) -> dict[str, set[str]]:
    """Series name → label names, from a worker that opened a case which breached and paged at once (one run
    per module: the tests below share it)."""
    if not _SCRAPED:
        port = free_port()
        async with DevServer(tmp_path / "temporal", ui=False) as server:
            settings = WorkerSettings.from_env(
                {"TEMPORAL_ADDRESS": server.address, "SUPPORTFLOW_METRICS_PORT": str(port)}
            )
            client = await connect(settings.client, metrics_runtime(settings))
            monkeypatch.setenv("SUPPORTFLOW_TASK_QUEUE", settings.task_queue)
            async with build_worker(client, settings=settings):
                await start_case(client, blockit_request(1, datetime.now(UTC) - timedelta(minutes=31)))
                text = await scrape(f"http://127.0.0.1:{port}/metrics", "supportflow_deliveries{")
        _SCRAPED.update(series_in(text))
    return _SCRAPED


def series_in(exposition: str) -> dict[str, set[str]]:
    """Series name → label names, read from Prometheus text exactly as Prometheus stores it (prometheus_client's
    parser would rename our counters with a `_total` that the exporter does not write)."""
    series: dict[str, set[str]] = {}
    for line in exposition.splitlines():
        sample = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ", line)
        if sample and not line.startswith("#"):
            labels = set(re.findall(r'([a-zA-Z_]\w*)="', sample.group(2) or ""))
            series.setdefault(sample.group(1), set()).update(labels)
    return series


def parse(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names (matchers, by/without clauses) a PromQL expression uses."""
    expr = re.sub(r"\$\w+", "", expr)  # Grafana variables ($__rate_interval, $tenant) become nothing
    expr = re.sub(r"label_values\(\s*([\w:]+)\s*,\s*(\w+)\s*\)", r'\1{\2=""}', expr)  # a variable's query
    expr = re.sub(r"(?<![\w:.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", " ", expr)  # numbers: 0.95, 1e-9, 10000
    labels: set[str] = set()
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    for clause in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in clause.split(",") if label.strip()}
    bare = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring)\s*\([^)]*\)', " ", expr)
    names = {word for word in re.findall(r"[a-zA-Z_:][\w:]*", bare) if word not in FUNCTIONS_AND_KEYWORDS}
    return names, labels


def dashboard_queries() -> list[tuple[str, str]]:
    found = [(panel["title"], target["expr"]) for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]
    found += [(f"variable {v['name']}", v["definition"]) for v in DASHBOARD["templating"]["list"]]
    return found


def check(where: str, expr: str, exported: dict[str, set[str]], allowed_absent: set[str] = frozenset()) -> None:
    names, labels = parse(expr)
    assert names, f"{where}: no metric found in {expr!r}"
    for name in names - PROMETHEUS_SERIES:
        if name in allowed_absent:
            continue
        assert name in exported, f"{where}: the worker exports no {name!r} (it has {sorted(exported)})"
        missing = labels - exported[name] - PROMETHEUS_LABELS
        assert not missing, f"{where}: {name} carries no label {sorted(missing)} (it has {sorted(exported[name])})"


def test_the_parser_finds_names_and_labels():
    names, labels = parse(
        'sum by (tenant, le) (rate(supportflow_breach_lateness_bucket{tenant=~"$tenant"}[5m])) > 1e-9'
    )
    assert names == {"supportflow_breach_lateness_bucket"} and labels == {"tenant", "le"}


def test_every_dashboard_query_names_series_the_worker_exports(exported):
    queries = dashboard_queries()
    assert len(queries) >= 10
    for where, expr in queries:
        check(where, expr, exported)


def test_the_dashboard_shows_cases_breaches_lateness_ladder_steps_and_deliveries(exported):
    used = set().union(*(parse(expr)[0] for _, expr in dashboard_queries()))
    for name in (
        "supportflow_cases_opened",
        "supportflow_breaches",
        "supportflow_breach_lateness_bucket",
        "supportflow_ladder_steps",
        "supportflow_deliveries",
    ):
        assert name in used, f"the dashboard has no panel on {name}"
    assert "outcome" in exported["supportflow_deliveries"]  # deliveries by outcome, as the panel shows
    datasources = {json.dumps(panel.get("datasource")) for panel in DASHBOARD["panels"] if panel["type"] != "row"}
    assert datasources == {json.dumps({"type": "prometheus", "uid": "prometheus"})}  # the provisioned one


def test_every_alert_names_series_the_worker_exports(exported):
    rules = [rule for group in ALERTS["groups"] for rule in group["rules"]]
    assert len(rules) >= 10
    for rule in rules:
        if rule["expr"].startswith('up{job="temporal"}'):
            continue  # the server's scrape, not the worker's
        check(rule["alert"], rule["expr"], exported, allowed_absent=ONLY_ON_TROUBLE)
    operations = (REPO / "docs" / "operations.md").read_text()
    for name in ONLY_ON_TROUBLE:
        assert f"`{name}`" in operations
