"""The drift monitor's runs, metrics and endpoint in-process, over a log held in a list (the
integration test, tests/test_monitor_drift.py, runs the real processes)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from kit.testing import running_client
from kit.tests.test_drift_window import PROFILE, ListStore, features, rows
from monitor.app import build_app, parse_since
from monitor.settings import MonitorSettings
from monitor.watch import DriftMonitor


def artifact(root: Path, model: str, version: str, profile: dict | None) -> None:
    folder = root / model / version
    folder.mkdir(parents=True)
    manifest = {"name": model, "version": version, "files": {}}
    if profile is not None:
        manifest["reference_profile"] = profile
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def setup(tmp_path: Path):
    artifact(tmp_path, "credit", "v1", PROFILE)
    artifact(tmp_path, "credit", "v2", PROFILE)
    artifact(tmp_path, "credit", "v0", None)
    rng = np.random.default_rng(7)
    start = time.time() - 1000  # the app's own runs, on the real clock, see them too
    store = ListStore(rows("v1", features(rng, 300), start=start)
                      + rows("v2", features(rng, 300, 0.6), start=start, served_by="shadow")
                      + rows("v0", features(rng, 150), start=start))
    store.start = start
    settings = MonitorSettings(models=["credit"], model_dir=tmp_path, window_seconds=3600,
                               window_min=100, interval_seconds=3600)
    monitor = DriftMonitor(settings, ["credit"], CollectorRegistry(), logging.getLogger("t"),
                           store_of=lambda model: store)
    return settings, monitor, store


def gauge(monitor: DriftMonitor, name: str, **labels) -> float | None:
    for metric in monitor.registry.collect():
        for sample in metric.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_a_run_sets_per_version_series_and_removes_stale_ones(setup) -> None:
    _, monitor, store = setup
    t0 = store.start
    monitor.run_once(now=t0 + 400)
    assert gauge(monitor, "finfleet_drift_dataset_score", model="credit", version="v1") < 0.3
    assert gauge(monitor, "finfleet_drift_dataset_score", model="credit", version="v2") >= 0.5
    assert gauge(monitor, "finfleet_drift_score", model="credit", version="v2",
                 feature="amount") >= 0.5
    assert gauge(monitor, "finfleet_drift_dataset_score", model="credit", version="v0") is None
    assert gauge(monitor, "finfleet_drift_window_records", model="credit", version="v0",
                 kind="records") == 150
    assert gauge(monitor, "finfleet_drift_last_run_timestamp_seconds", model="credit") == t0 + 400
    store.records = [r for r in store.records if r["version"] == "v1"]  # v2 left the window
    monitor.run_once(now=t0 + 500)
    assert gauge(monitor, "finfleet_drift_dataset_score", model="credit", version="v2") is None
    assert gauge(monitor, "finfleet_drift_score", model="credit", version="v2",
                 feature="amount") is None
    assert gauge(monitor, "finfleet_drift_window_records", model="credit", version="v2",
                 kind="records") is None
    assert [p[0] for p in monitor.history[("credit", "v1")]] == [round(t0 + 400, 3),
                                                                 round(t0 + 500, 3)]
    assert ("credit", "v2") not in monitor.history


def test_an_unreadable_log_is_counted_and_said(setup) -> None:
    settings, _, _ = setup

    def broken(model: str):
        raise OSError("database is locked")

    monitor = DriftMonitor(settings, ["credit"], CollectorRegistry(), logging.getLogger("t"),
                           store_of=broken)
    monitor.run_once()
    assert gauge(monitor, "finfleet_drift_errors_total", model="credit") == 1
    assert "database is locked" in monitor.latest["credit"].error


def test_the_endpoint_answers_per_version_with_thresholds_and_history(setup) -> None:
    settings, monitor, _ = setup

    async def go():
        app = build_app(settings, monitor)
        async with running_client(app) as client:  # ready after the first run
            monitor.run_once()
            body = (await client.get("/v1/models/credit/drift")).json()
            since = (await client.get("/v1/models/credit/drift?since=1h")).json()
            later = (await client.get(f"/v1/models/credit/drift?since={time.time() + 1}")).json()
            unknown = await client.get("/v1/models/nope/drift")
            bad = await client.get("/v1/models/credit/drift?since=yesterday")
            metrics = (await client.get("/metrics")).text
        return body, since, later, unknown, bad, metrics

    body, since, later, unknown, bad, metrics = asyncio.run(go())
    assert body["thresholds"] == {"warning": 0.3, "critical": 0.5}
    assert body["status"] == "ok" and body["window"]["min_records"] == 100
    by_version = {v["version"]: v for v in body["versions"]}
    assert by_version["v2"]["level"] == "critical" and by_version["v2"]["served_by"] == {
        "shadow": 300}
    assert by_version["v2"]["features"]["amount"]["score"] >= 0.5
    assert by_version["v0"]["reason"] == "no reference profile"
    assert len(by_version["v1"]["history"]) == 2
    assert len({v["version"]: v for v in since["versions"]}["v1"]["history"]) == 2
    assert {v["version"]: v for v in later["versions"]}["v1"]["history"] == []
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert bad.status_code == 400 and "since" in bad.json()["detail"]
    assert 'finfleet_drift_dataset_score{model="credit",version="v2"}' in metrics


def test_since_takes_a_duration_or_unix_seconds() -> None:
    assert parse_since("2h", 10_000.0) == 10_000.0 - 7200
    assert parse_since("7d", 1e6) == 1e6 - 7 * 86400
    assert parse_since("1234.5", 0) == 1234.5
    assert parse_since(None, 5.0) == 0.0


def test_anomaly_windows_span_a_day_unless_set() -> None:
    settings = MonitorSettings()
    assert settings.window_of("anomaly") == 86400.0
    assert settings.window_of("credit") == settings.window_seconds
    custom = MonitorSettings(window_seconds_by_model={"credit": 60})
    assert custom.window_of("credit") == 60 and custom.window_of("anomaly") == 3600
