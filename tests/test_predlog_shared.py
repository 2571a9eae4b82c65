"""The shared prediction log: two credit replicas and a gateway over one real PostgreSQL.

Both replicas write to the one server, so an outcome sent through the gateway (to whichever
replica) finds a prediction the other replica made, and live quality is computed from it. With
the server stopped the services keep answering and count what they could not write; once it is
back, logging resumes with no restart.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.procs import APPLICANT, PostgresServer, procs, trained_credit_dir

pytestmark = pytest.mark.integration


def metric(url: str, name: str, **labels: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def eventually(check, timeout_s: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s:.0f}s")
        time.sleep(0.2)


def predict(url: str, income: int, request_id: str | None = None) -> httpx.Response:
    headers = {"X-Request-ID": request_id} if request_id else {}
    return httpx.post(f"{url}/v1/models/credit:predict", timeout=10, headers=headers,
                      json={"instances": [{**APPLICANT, "income": income}]})


def logged(pg: PostgresServer, ids: list[str]) -> bool:
    rows = pg.query("SELECT count(*) FROM predictions WHERE prediction_id = ANY(%s)", ids)
    return rows[0][0] == len(ids)


@pytest.fixture
def fleet(tmp_path, tmp_path_factory):
    model_dir = trained_credit_dir(tmp_path_factory)
    pg = PostgresServer(tmp_path)
    started = []
    try:
        pg.start()
        env = {"CREDIT_LOG_URL": pg.url, "CREDIT_LOG_FLUSH_SECONDS": "0.2",
               "CREDIT_QUALITY_SECONDS": "0.5", "CREDIT_LOG_LEVEL": "WARNING",
               "CREDIT_LOG_SALT": "test-salt"}
        replicas = [procs.start_service("credit", model_dir, tmp_path / name, env=env,
                                        wait=False) for name in ("a", "b")]
        started.extend(replicas)
        for replica in replicas:
            procs.wait_ready(replica)
        started.append(procs.start_gateway(
            {"GATEWAY_UPSTREAMS": json.dumps({"credit": ",".join(r.url for r in replicas)}),
             "GATEWAY_REQUIRED_UPSTREAMS": '["credit"]', "GATEWAY_LOG_LEVEL": "WARNING"},
            tmp_path))
        yield pg, replicas, started[-1]
    finally:
        for proc in reversed(started):
            proc.stop()
        pg.close()


def test_replicas_share_one_log_and_outcomes_join_across_them(fleet):
    pg, (a, b), gateway = fleet
    on_a, on_b = predict(a.url, 30_000, "req-on-a"), predict(b.url, 400_000)
    assert on_a.status_code == on_b.status_code == 200
    id_a, id_b = on_a.json()["prediction_ids"][0], on_b.json()["prediction_ids"][0]
    eventually(lambda: logged(pg, [id_a, id_b]), what="both replicas' predictions in PostgreSQL")
    served = dict(pg.query("SELECT prediction_id, served_by FROM predictions"))
    assert served == {id_a: "production", id_b: "production"}

    answer = httpx.post(f"{gateway.url}/v1/models/credit/outcomes", timeout=10, json={
        "outcomes": [{"request_id": "req-on-a", "label": True},
                     {"prediction_id": id_b, "label": False},
                     {"prediction_id": "not-a-prediction", "label": True}]})
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["stored", "stored", "unknown"]
    assert dict(pg.query("SELECT prediction_id, label::text FROM outcomes")) == {
        id_a: "true", id_b: "false"}
    version = on_a.json()["model_version"]
    # each replica reads the shared outcomes: both export the same live quality
    for replica in (a, b):
        eventually(lambda r=replica: metric(r.url, "finfleet_live_labelled", version=version) == 2,
                   what="live quality over both outcomes")
        # the defaulted applicant (income 30k) was scored riskier than the one who repaid
        assert metric(replica.url, "finfleet_live_quality", version=version,
                      metric="auc") == 1.0

    # the gateway's shadow copy of req-on-a, answered by the other replica: judged by the
    # outcome of the production answer it copied (named by its prediction id), in the shared log
    copy = httpx.post(f"{b.url}/v1/models/credit/versions/{version}:predict", timeout=10,
                      headers={"X-Request-ID": "req-on-a", "X-Finfleet-Shadow": "1",
                               "X-Finfleet-Shadow-Of": id_a},
                      json={"instances": [{**APPLICANT, "income": 30_000}]})
    assert copy.status_code == 200

    def shadowed() -> int:
        quality = httpx.get(f"{a.url}/v1/models/credit/quality", timeout=10).json()
        return quality["shadowed"].get(version, {}).get("requests", 0)

    eventually(lambda: shadowed() == 1, what="the shadow copy judged by req-on-a's outcome")

    first = httpx.post(f"{gateway.url}/v1/credit", json={**APPLICANT, "income": 77_777},
                       timeout=10).json()
    again = httpx.post(f"{gateway.url}/v1/credit", json={**APPLICANT, "income": 77_777},
                       timeout=10).json()
    assert first["prediction_id"] and again["prediction_id"] is None  # a cache hit: not logged
    assert again["prediction"] == first["prediction"]


def test_with_the_log_server_down_predicts_answer_and_failures_are_counted(fleet):
    pg, replicas, gateway = fleet
    pg.stop()
    for replica in replicas:
        for income in (41_000, 42_000, 43_000):
            assert predict(replica.url, income).status_code == 200
    for replica in replicas:
        eventually(lambda r=replica: metric(r.url, "finfleet_predlog_records_total",
                                            outcome="failed") >= 3,
                   what="failed records counted")
    refused = httpx.post(f"{gateway.url}/v1/models/credit/outcomes", timeout=10, json={
        "outcomes": [{"prediction_id": "x", "label": True}]})
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"

    pg.start()
    after = [predict(replica.url, 50_000).json()["prediction_ids"][0] for replica in replicas]
    eventually(lambda: logged(pg, after), what="logging resumed on both replicas")
    for replica in replicas:
        assert metric(replica.url, "finfleet_predlog_records_total", outcome="written") >= 1
