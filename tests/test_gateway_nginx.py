"""nginx rendered from the templates, in front of the gateway process, in front of the real
credit service: `nginx -t`, real requests, auth, 429 and 413 through the whole chain."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.auth import hash_key
from gateway.nginx.render import render_nginx
from gateway.settings import GatewaySettings

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration

APPLICANT = procs.APPLICANT
KEY, LIMITED_KEY = "k-main-0123456789", "k-limited-0123456789"
MAX_BODY = 4096


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """redis → credit → gateway (keys on, 5 req/s per key) → nginx."""
    procs.require_binary("nginx")
    log_dir = tmp_path_factory.mktemp("nginx-chain")
    credit_models = procs.trained_credit_dir(tmp_path_factory)
    started: list[procs.Proc] = []
    try:
        redis = procs.start_redis(log_dir)
        started.append(redis)
        credit = procs.start_credit(credit_models, log_dir)
        started.append(credit)
        upstreams = {"credit": credit.url, "ner": f"http://127.0.0.1:{procs.free_port()}"}
        gateway = procs.start_gateway({
            "GATEWAY_UPSTREAMS": json.dumps(upstreams), "GATEWAY_REDIS_URL": redis.url,
            "GATEWAY_API_KEY_SHA256": json.dumps([hash_key(KEY), hash_key(LIMITED_KEY)]),
            "GATEWAY_RATE_LIMIT_PER_SECOND": "5", "GATEWAY_RATE_LIMIT_BURST": "10",
            "GATEWAY_MAX_BODY_BYTES": str(MAX_BODY),
        }, log_dir)
        started.append(gateway)
        port = procs.free_port()
        conf = log_dir / "nginx.conf"
        conf.write_text(render_nginx(
            GatewaySettings(max_body_bytes=MAX_BODY), replicas=[gateway.url.split("//")[1]],
            listen=port, rate_per_second=1000, prefix=str(log_dir)))
        checked = procs.nginx_test(conf, log_dir)
        nginx = procs.start_nginx(conf, log_dir, port)
        started.append(nginx)
        yield {"nginx": nginx, "credit": credit, "gateway": gateway, "checked": checked,
               "conf": conf}
    finally:
        for proc in reversed(started):
            proc.stop()


def test_rendered_config_passes_nginx_t(chain):
    assert chain["checked"].returncode == 0, chain["checked"].stderr
    assert "test is successful" in chain["checked"].stderr
    assert f"server {chain['gateway'].url.split('//')[1]}" in chain["conf"].read_text()


def test_prediction_through_nginx_matches_the_credit_service(chain):
    direct = httpx.post(f"{chain['credit'].url}/v1/models/credit:predict",
                        json={"instances": [APPLICANT]}, timeout=10).json()
    response = httpx.post(f"{chain['nginx'].url}/v1/models/credit:predict",
                          json={"instances": [APPLICANT]}, timeout=10,
                          headers={"Authorization": f"Bearer {KEY}", "X-Request-ID": "trace-1"})
    assert response.status_code == 200
    answer = response.json()
    assert answer.pop("prediction_ids") != direct.pop("prediction_ids")  # each call logged apart
    assert answer == direct
    assert response.headers["x-request-id"] == "trace-1"
    generated = httpx.post(f"{chain['nginx'].url}/v1/credit", json=APPLICANT, timeout=10,
                           headers={"X-API-Key": KEY})
    assert generated.status_code == 200
    assert len(generated.headers["x-request-id"]) >= 16  # nginx's $request_id


def test_missing_or_wrong_key_is_401_problem_json(chain):
    missing = httpx.post(f"{chain['nginx'].url}/v1/credit", json=APPLICANT, timeout=10)
    wrong = httpx.post(f"{chain['nginx'].url}/v1/credit", json=APPLICANT, timeout=10,
                       headers={"X-API-Key": "guess"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 401


def test_rate_limit_per_key_answers_429_with_retry_after(chain):
    headers = {"X-API-Key": LIMITED_KEY}
    with httpx.Client(base_url=chain["nginx"].url, headers=headers, timeout=10) as client:
        statuses = [client.post("/v1/credit", json=APPLICANT).status_code for _ in range(14)]
        limited = client.post("/v1/credit", json=APPLICANT)
    assert statuses.count(200) >= 10 and 429 in statuses
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["title"] == "Too many requests"
    other = httpx.post(f"{chain['nginx'].url}/v1/credit", json=APPLICANT, timeout=10,
                       headers={"X-API-Key": KEY})
    assert other.status_code == 200  # buckets are per key


def test_oversized_body_is_413_problem_json_from_nginx(chain):
    big = {"instances": [APPLICANT] * 100}
    response = httpx.post(f"{chain['nginx'].url}/v1/models/credit:predict", json=big,
                          timeout=10, headers={"X-API-Key": KEY})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413
    assert "127.0.0.1" not in response.text
