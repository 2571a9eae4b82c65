"""Canary and shadow through the gateway, against the real credit service holding two
versions: the tuned production model and a candidate trained on 500 rows (it disagrees on
purpose). A 10 % canary sends 10 ± 2 % of 10,000 requests to the candidate, each caller always
to the same version; a 100 % shadow leaves callers on production and its comparison shows the
candidate's different answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateway.auth import hash_key
from kit import procs as kit_procs
from kit.registry import FileRegistry

try:
    from tests import procs
    from tests.test_gateway_fleet import metric
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs
    from test_gateway_fleet import metric

pytestmark = pytest.mark.integration

CALLERS = 1250  # API keys; the canary is sticky per key
REQUESTS_PER_CALLER = 8  # 10,000 requests in all
APPLICANTS = [{**procs.APPLICANT, "income": 50_000 + 500 * i} for i in range(40)]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    source = procs.trained_credit_dir(tmp_path_factory)
    model_dir = tmp_path_factory.mktemp("traffic-models")
    shutil.copytree(source / "credit", model_dir / "credit")
    production = FileRegistry(model_dir, "credit").aliases().aliases["production"]
    kit_procs.train("credit", model_dir, "--rows", "500", "--no-progress", timeout_s=300)
    candidate = FileRegistry(model_dir, "credit").aliases().aliases["candidate"]
    assert candidate != production
    return model_dir, production, candidate


@pytest.fixture(scope="module")
def traffic_fleet(two_models, tmp_path_factory):
    model_dir, production, candidate = two_models
    logs = tmp_path_factory.mktemp("traffic-logs")
    started: list[kit_procs.Proc] = []
    try:
        credit = kit_procs.start_service("credit", model_dir, logs, env={
            "CREDIT_LOG_LEVEL": "WARNING", "CREDIT_SERVE_CANDIDATE": "true",
            "CREDIT_REGISTRY_POLL_SECONDS": "0.5",
            "CREDIT_QUALITY_SECONDS": "0.5"})
        started.append(credit)
        upstreams = {name: f"http://127.0.0.1:{procs.free_port()}"
                     for name in ("intent", "ner", "spending", "anomaly")}
        upstreams["credit"] = credit.url
        keys = [hash_key(f"caller-{i}") for i in range(CALLERS)]
        gateway = procs.start_gateway({
            "GATEWAY_UPSTREAMS": json.dumps(upstreams),
            "GATEWAY_VERSION_REFRESH_SECONDS": "0.5",
            "GATEWAY_API_KEY_SHA256": json.dumps(keys),
            "GATEWAY_ADMIN_KEY_SHA256": json.dumps([hash_key("operator")]),
            "GATEWAY_TRAFFIC": json.dumps({"credit": {"canary_percent": 10}})}, logs)
        started.append(gateway)
        _wait_for_candidate(gateway, candidate)
        yield gateway, production, candidate
    finally:
        for proc in reversed(started):
            proc.stop()


def _wait_for_candidate(gateway, candidate: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        report = httpx.get(f"{gateway.url}/admin/models/credit/traffic",
                           headers=ADMIN, timeout=5).json()
        if report["policy"]["candidate_version"] == candidate:
            return
        time.sleep(0.2)
    raise AssertionError(f"the gateway never saw the candidate: {report}")


ADMIN = {"Authorization": "Bearer operator"}


def _ask(gateway_url: str, caller: int) -> list[str]:
    headers = {"Authorization": f"Bearer caller-{caller}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=15) as client:
        versions = []
        for k in range(REQUESTS_PER_CALLER):
            response = client.post("/v1/credit", json=APPLICANTS[(caller + k) % len(APPLICANTS)])
            assert response.status_code == 200, response.text
            versions.append(response.json()["model_version"])
        return versions


def test_a_ten_percent_canary_is_ten_percent_of_requests_and_sticky(traffic_fleet):
    gateway, production, candidate = traffic_fleet
    with ThreadPoolExecutor(8) as pool:
        per_caller = list(pool.map(lambda c: _ask(gateway.url, c), range(CALLERS)))
    answers = [v for versions in per_caller for v in versions]
    assert len(answers) == CALLERS * REQUESTS_PER_CALLER == 10_000
    assert set(answers) == {production, candidate}
    share = answers.count(candidate) / len(answers)
    assert 0.08 <= share <= 0.12, share
    assert all(len(set(versions)) == 1 for versions in per_caller), "a caller changed sides"
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert metric(metrics, "finfleet_canary_requests_total", model="credit",
                  outcome="candidate") == answers.count(candidate)
    listing = httpx.get(f"{gateway.url}/v1/models",
                        headers={"Authorization": "Bearer caller-0"}).json()["models"]
    credit = next(m for m in listing if m["name"] == "credit")
    assert credit["traffic"]["canary_percent"] == 10
    assert credit["traffic"]["candidate_version"] == candidate
    report = httpx.get(f"{gateway.url}/admin/models/credit/traffic", headers=ADMIN).json()
    latency = report["comparison"]["latency"]
    assert latency, report


def test_a_full_shadow_keeps_callers_on_production_and_compares(traffic_fleet):
    gateway, production, candidate = traffic_fleet
    set_policy = httpx.put(f"{gateway.url}/admin/models/credit/traffic", headers=ADMIN,
                           json={"canary_percent": 0, "shadow_percent": 100})
    assert set_policy.status_code == 200, set_policy.text
    # one X-Request-ID on every request (a caller may reuse one): the copies still pair with
    # their own production answers, by the prediction ids the gateway sends with each copy
    headers = {"Authorization": "Bearer caller-1", "X-Request-ID": "one-id-for-all"}
    fresh = [{**procs.APPLICANT, "income": 200_000 + 100 * i} for i in range(100)]
    answers = [httpx.post(f"{gateway.url}/v1/credit", json=a, headers=headers, timeout=15)
               for a in fresh]
    assert {r.status_code for r in answers} == {200}
    assert {r.json()["model_version"] for r in answers} == {production}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        metrics = httpx.get(f"{gateway.url}/metrics").text
        if metric(metrics, "finfleet_shadow_requests_total", model="credit",
                  outcome="sent") >= len(fresh):
            break
        time.sleep(0.2)
    report = httpx.get(f"{gateway.url}/v1/models/credit/traffic", headers=headers).json()
    comparison = report["comparison"]
    assert comparison["pairs"]["all_time"] >= len(fresh), comparison
    pd = comparison["measures"]["pd"]
    assert pd["all_time"]["count"] >= len(fresh)
    assert pd["all_time"]["mean_abs_shift"] > 0.001, pd  # a different model answers differently
    assert metric(metrics, "finfleet_shadow_requests_total", model="credit",
                  outcome="dropped") == 0

    # outcomes for the production answers judge the candidate's shadow copies of them too
    labels = [{"prediction_id": r.json()["prediction_id"], "label": i % 4 == 0}
              for i, r in enumerate(answers)]
    deadline = time.monotonic() + 20
    while labels and time.monotonic() < deadline:  # until the log's writer has them all
        results = httpx.post(f"{gateway.url}/v1/models/credit/outcomes", headers=headers,
                             json={"outcomes": labels}, timeout=15).json()["results"]
        labels = [item for item, r in zip(labels, results, strict=True)
                  if r["status"] != "stored"]
        time.sleep(0.3)
    assert not labels, results
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        quality = httpx.get(f"{gateway.url}/v1/models/credit/traffic",
                            headers=headers).json()["live_quality"]
        if quality.get("shadowed", {}).get(candidate, {}).get("requests") == len(fresh):
            break
        time.sleep(0.3)
    both = quality["shadowed"][candidate]
    assert both["requests"] == len(fresh), quality
    assert set(both["production"]) == set(both["candidate"]) >= {"auc", "average_precision"}
    assert quality["versions"][candidate]["served_by"]["shadow"] == len(fresh)
    assert quality["versions"][production]["served_by"]["production"] >= len(fresh)


def test_the_command_line_shows_and_sets_the_policy(traffic_fleet):
    gateway, production, candidate = traffic_fleet
    command = [sys.executable, "-m", "gateway.traffic_cli", "--url", gateway.url,
               "--admin-key", "operator"]
    changed = subprocess.run([*command, "set", "credit", "--canary", "5"], capture_output=True,
                             text=True, timeout=60)
    assert changed.returncode == 0, changed.stderr
    assert "canary 5 %, shadow 0 %" in changed.stdout
    shown = subprocess.run([*command, "show", "credit"], capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"production {production}, candidate {candidate}" in shown.stdout
    assert "pd" in shown.stdout and "band" in shown.stdout
    assert f"shadowed by {candidate}: production auc" in shown.stdout
    refused = subprocess.run([*command[:-1], "wrong", "show", "credit"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 1 and "401" in refused.stderr
