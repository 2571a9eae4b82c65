"""The drift monitor end to end: a real credit service logging to SQLite in a temporary folder
(or to a real PostgreSQL, as in compose and Kubernetes), the real monitor process reading the
same log, and a real gateway in front of both.

Traffic drawn like the training data keeps `finfleet_drift_dataset_score` and the answer of
`GET /v1/models/credit/drift` (through the gateway) under the warning level; the same
applicants with incomes × 0.6 (tests/test_drift_scenarios.py's shift) raise both over 0.3. The
monitor's window holds the newest 400 records, so the shifted batch replaces the normal one.
"""

from __future__ import annotations

import json

import httpx
import pytest

from fleet import drift_cli
from kit.drift import WARNING
from tests.procs import (
    PostgresServer,
    procs,
    start_gateway,
    start_monitor,
    trained_credit_dir,
    upstreams_with,
)
from tests.test_predlog_shared import eventually, metric

pytestmark = pytest.mark.integration
WINDOW = 400


def applications(shifted: bool) -> list[dict]:
    from services.credit.data import generate_applications

    frame = generate_applications(n=2000, seed=1234).frame
    if shifted:
        frame = frame.assign(income=(frame["income"] * 0.6).round(-2)).iloc[1600:1600 + WINDOW]
    else:
        frame = frame.iloc[:WINDOW]
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def send(url: str, instances: list[dict]) -> None:
    for k in range(0, len(instances), 50):
        reply = httpx.post(f"{url}/v1/models/credit:predict", timeout=30,
                           json={"instances": instances[k:k + 50]})
        assert reply.status_code == 200, reply.text


def backend(kind: str, tmp_path) -> tuple[dict[str, str], dict[str, str], object]:
    """The credit service's and the monitor's log settings for one backend, and the server to
    close (PostgreSQL) or None."""
    if kind == "sqlite":
        log_dir = str(tmp_path / "predictions")
        return {"CREDIT_LOG_DIR": log_dir}, {"MONITOR_LOG_DIR": log_dir}, None
    pg = PostgresServer(tmp_path)
    pg.start()
    return {"CREDIT_LOG_URL": pg.url}, {"MONITOR_LOG_URL": pg.url}, pg


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet(request, tmp_path, tmp_path_factory):
    """credit → its log (SQLite files in a temporary folder, or a real PostgreSQL) → the monitor
    → the gateway."""
    model_dir = trained_credit_dir(tmp_path_factory)
    started, server = [], None
    try:
        credit_log, monitor_log, server = backend(request.param, tmp_path)
        credit = procs.start_service("credit", model_dir, tmp_path, env={
            **credit_log, "CREDIT_LOG_FLUSH_SECONDS": "0.2", "CREDIT_LOG_LEVEL": "WARNING"})
        started.append(credit)
        monitor = start_monitor({
            **monitor_log, "MONITOR_MODELS": '["credit"]', "MONITOR_MODEL_DIR": str(model_dir),
            "MONITOR_INTERVAL_SECONDS": "0.5", "MONITOR_WINDOW_MAX": str(WINDOW),
            "MONITOR_WINDOW_MIN": "100"}, tmp_path)
        started.append(monitor)
        gateway = start_gateway({
            "GATEWAY_UPSTREAMS": json.dumps(upstreams_with(credit=credit.url)),
            "GATEWAY_REQUIRED_UPSTREAMS": '["credit"]', "GATEWAY_MONITOR_URL": monitor.url,
            "GATEWAY_TRAINER_URL": ""}, tmp_path)
        started.append(gateway)
        yield credit, monitor, gateway
    finally:
        for proc in reversed(started):
            proc.stop()
        if server is not None:
            server.close()


def version_report(gateway_url: str) -> dict | None:
    reply = httpx.get(f"{gateway_url}/v1/models/credit/drift", timeout=10)
    assert reply.status_code == 200, reply.text
    versions = [v for v in reply.json()["versions"] if v["scored"] == WINDOW and v["score"]
                is not None]
    return versions[0] if versions else None


def test_shifted_incomes_raise_the_drift_score_over_the_warning(fleet, capsys) -> None:
    credit, monitor, gateway = fleet

    send(credit.url, applications(shifted=False))
    normal = eventually(lambda: version_report(gateway.url), 60, "a scored normal window")
    assert normal["score"] < WARNING, normal
    version = normal["version"]
    assert metric(monitor.url, "finfleet_drift_dataset_score", model="credit",
                  version=version) < WARNING

    send(credit.url, applications(shifted=True))

    def shifted_score() -> float:
        score = metric(monitor.url, "finfleet_drift_dataset_score", model="credit",
                       version=version)
        return score if score > WARNING else 0.0

    eventually(shifted_score, 60, "the dataset score over 0.3 on /metrics")
    assert metric(monitor.url, "finfleet_drift_score", model="credit", version=version,
                  feature="income") > WARNING
    report = version_report(gateway.url)
    assert report["score"] > WARNING and report["level"] in ("warning", "critical"), report
    assert "income" in report["drifted"]
    assert report["features"]["income"]["psi"] > 0
    history = [point["score"] for point in report["history"]]
    assert min(history) < WARNING < max(history)  # the chart shows the move

    capsys.readouterr()
    assert drift_cli.main(["--url", gateway.url, "credit"]) == 0  # `finfleet drift credit`
    table = capsys.readouterr().out
    assert version in table and report["level"] in table and "income" in table


def test_the_window_counts_what_was_logged_and_the_gateway_says_unknown_and_down(fleet
                                                                                ) -> None:
    credit, monitor, gateway = fleet
    send(credit.url, applications(shifted=False)[:30])

    def counted() -> dict | None:
        versions = httpx.get(f"{gateway.url}/v1/models/credit/drift", timeout=10).json()[
            "versions"]
        return versions[0] if versions and versions[0]["records"] == 30 else None

    window = eventually(counted, 60, "the 30 logged records in the monitor's window")
    assert window["served_by"] == {"production": 30} and window["score"] is None
    assert window["reason"].startswith("not enough data")
    unknown = httpx.get(f"{gateway.url}/v1/models/nope/drift", timeout=10)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    monitor.stop()
    down = httpx.get(f"{gateway.url}/v1/models/credit/drift", timeout=10)
    assert down.status_code == 503, down.text
    assert down.json()["title"] == "Drift monitor unavailable"
