"""Monitoring: promtool checks and unit-tests the alert rules, the Prometheus configs load, and
every metric the alerts and the Grafana dashboard query is one the running apps export."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.procs import require_binary

REPO_ROOT = Path(__file__).resolve().parents[1]
MONITORING = REPO_ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "finfleet.json"
MODEL_SERVICES = ("intent", "ner", "spending", "anomaly", "credit")
PROMETHEUS_BUILTINS = {"up"}
SAMPLE_SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "info": ("_info",),
                   "histogram": ("_bucket", "_count", "_sum", "_created"),
                   "summary": ("", "_count", "_sum", "_created"), "unknown": ("",)}
METRIC = re.compile(r"\b(finfleet_[a-z0-9_]+|up)\b(?![a-z0-9_]*\s*\()")
REQUIRED_ALERTS = {
    "error ratio": "FinfleetHighErrorRatio",
    "p95 latency": "FinfleetHighLatencyP95",
    "upstream down": "FinfleetUpstreamFailing",
    "circuit open": "FinfleetCircuitOpen",
    "cache hit ratio drop": "FinfleetCacheHitRatioDrop",
    "model not ready": "FinfleetModelNotReady",
    "model reload failed": "FinfleetModelReloadFailed",
    "replicas serve different versions": "FinfleetModelVersionSkew",
    "drift warning (0.3)": "FinfleetDriftWarning",
    "drift critical (0.5)": "FinfleetDriftCritical",
}


def require_promtool() -> str:
    return require_binary("promtool", hint="run deploy/ci-tools.sh")


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess:
    return subprocess.run([require_promtool(), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def panel_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def dashboard_exprs() -> list[str]:
    """Panel queries plus the variables' Grafana queries (`label_values(metric, label)`)."""
    dashboard = json.loads(DASHBOARD.read_text())
    variables = [v["query"]["query"] for v in dashboard["templating"]["list"]
                 if v["type"] == "query"]
    return panel_exprs() + variables


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label names and functions excluded)."""
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_grouping = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    return set(METRIC.findall(without_grouping))


def sample_names(exposition: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES[family.type])
    return names


async def scrape(app) -> str:
    from kit.testing import running_client

    async with running_client(app, wait_ready=False) as client:
        response = await client.get("/metrics")
        assert response.status_code == 200
        return response.text


def service_app(name: str, model_dir: Path):
    from kit.settings import HttpSettings, ServiceSettings

    module_name = "gateway.app" if name == "gateway" else f"services.{name}.app"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    bases = (HttpSettings, ServiceSettings)
    settings_type = next(v for v in vars(module).values() if isinstance(v, type)
                         and issubclass(v, HttpSettings) and v not in bases)
    overrides = {} if name == "gateway" else {"model_dir": model_dir}
    return module.build_app(settings_type(**overrides))


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> set[str]:
    return asyncio.run(exported_sample_names(tmp_path_factory.mktemp("models")))


async def exported_sample_names(model_dir: Path) -> set[str]:
    """Sample names from /metrics of the kit's app, every service, the gateway and the drift
    monitor."""
    from kit import ServedModel, ServiceSettings, create_app

    class ProbeModel(ServedModel):
        name = "probe"

    apps = [create_app(ProbeModel, ServiceSettings(model_dir=model_dir))]
    missing = []
    for name in (*MODEL_SERVICES, "gateway"):
        app = service_app(name, model_dir)
        (missing.append(name) if app is None else apps.append(app))
    from monitor.app import build_app as monitor_app
    from monitor.settings import MonitorSettings

    apps.append(monitor_app(MonitorSettings(models=["credit"], model_dir=model_dir,
                                            log_dir=model_dir / "no-log")))
    names = set()
    for app in apps:
        names |= sample_names(await scrape(app))
    if "gateway" in missing:  # not written yet: its metrics class is the exporter
        from prometheus_client import generate_latest

        from gateway.metrics import GatewayMetrics

        names |= sample_names(generate_latest(GatewayMetrics().registry).decode())
    return names


def test_metric_name_extraction() -> None:
    expr = ('sum by (service, le) (rate(finfleet_x_bucket{service=~"$service",le="+Inf"}[5m])) '
            'unless on (instance) up{job="a"} == 1')
    assert metric_names(expr) == {"finfleet_x_bucket", "up"}


def test_alert_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_fire_on_their_failures_in_promtool_unit_tests() -> None:
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_prometheus_config_loads() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_prometheus_config_loads() -> None:
    result = promtool("check", "config", "prometheus-k8s.yml")
    if "kubernetes_sd_configs not found" in result.stdout + result.stderr:
        pytest.skip("this promtool build has no Kubernetes discovery (Debian strips it)")
    assert result.returncode == 0, result.stdout + result.stderr


def test_required_alerts_exist_and_are_tested() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert set(REQUIRED_ALERTS.values()) <= names
    tests = yaml.safe_load((MONITORING / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for t in tests for case in t["alert_rule_test"]
              if case["exp_alerts"]}
    assert names <= tested, f"alerts never shown to fire: {names - tested}"


def test_every_alert_metric_is_exported(exported) -> None:
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        unknown = used - exported - PROMETHEUS_BUILTINS
        assert not unknown, f"{rule['alert']} queries {unknown}, which no app exports"


def test_every_dashboard_metric_is_exported(exported) -> None:
    for expr in dashboard_exprs():
        used = metric_names(expr)
        assert used, expr
        assert not used - exported - PROMETHEUS_BUILTINS, f"{expr}: {used - exported}"


def test_the_dashboard_shows_every_family_design_names(exported) -> None:
    used = set().union(*(metric_names(e) for e in dashboard_exprs()))
    for family in ("finfleet_http_requests_total", "finfleet_http_request_duration_seconds",
                   "finfleet_predictions_total", "finfleet_model_info",
                   "finfleet_predict_duration_seconds", "finfleet_cache_requests_total",
                   "finfleet_upstream_", "finfleet_model_reloads_total",
                   "finfleet_drift_score", "finfleet_drift_dataset_score",
                   "finfleet_live_quality"):
        assert any(name.startswith(family) for name in used), family
    assert {n for n in exported if n.startswith("finfleet_upstream_")}


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = [{"record": f"finfleet:dashboard_query_{i}",
              "expr": expr.replace("$__rate_interval", "5m").replace("$service", ".*")}
             for i, expr in enumerate(panel_exprs())]
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [
        {"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_is_well_formed_and_uses_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    datasources = yaml.safe_load(
        (MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"]
    for panel in dashboard["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid and panel["targets"], panel["title"]
    provider = yaml.safe_load(
        (MONITORING / "grafana/provisioning/dashboards/finfleet.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
