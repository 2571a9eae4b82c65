"""The gateway's V2 routes (gateway/v2.py) against a fake service on a real socket: what passes
through, what the circuit breaker counts, and what the gateway answers itself."""

from __future__ import annotations

from gateway.app import build_app
from gateway.auth import hash_key
from kit.testing import running_client


async def test_infer_passes_body_and_binary_header_both_ways(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        answer = await client.post("/v2/models/credit/versions/v%201/infer", content=b"{}raw",
                                   headers={"Inference-Header-Content-Length": "2",
                                            "X-Request-ID": "rid-1"})
    assert answer.status_code == 200 and answer.content == b"{}\x01\x02\x03"
    assert answer.headers["inference-header-content-length"] == "2"
    assert answer.headers["content-type"] == "application/octet-stream"
    [call] = credit.v2_calls
    assert call["path"] == "/v2/models/credit/versions/v 1/infer" and call["body"] == b"{}raw"
    assert call["headers"]["Inference-Header-Content-Length"] == "2"
    assert call["headers"]["X-Request-ID"] == "rid-1"


async def test_metadata_and_readiness_are_the_services(make_settings, credit):
    async with running_client(build_app(make_settings())) as client:
        for path in ("/v2/models/credit", "/v2/models/credit/ready",
                     "/v2/models/credit/versions/7", "/v2/models/credit/versions/7/ready"):
            assert (await client.get(path)).status_code == 200
    assert [(c["method"], c["path"]) for c in credit.v2_calls] == [
        ("GET", "/v2/models/credit"), ("GET", "/v2/models/credit/ready"),
        ("GET", "/v2/models/credit/versions/7"), ("GET", "/v2/models/credit/versions/7/ready")]


async def test_the_callers_400_passes_unchanged_and_never_opens_the_circuit(make_settings, credit):
    async with running_client(build_app(make_settings(circuit_failures=1))) as client:
        for _ in range(3):
            bad = await client.post("/v2/models/credit/infer", content=b"bad")
            assert bad.status_code == 400 and bad.json() == {"error": "boom"}
    assert len(credit.v2_calls) == 3


async def test_a_failing_upstream_opens_the_circuit_and_answers_in_the_protocols_body(
        make_settings, credit):
    credit.fail_status = 500
    async with running_client(build_app(make_settings(circuit_failures=1))) as client:
        failed = await client.post("/v2/models/credit/infer", content=b"{}")
        shed = await client.post("/v2/models/credit/infer", content=b"{}")
    assert failed.status_code == 502 and "'credit'" in failed.json()["error"]
    assert shed.status_code == 503 and "circuit is open" in shed.json()["error"]
    assert shed.headers["retry-after"] and len(credit.v2_calls) == 1


async def test_the_gateway_answers_v2_server_routes_itself(make_settings, credit):
    settings = make_settings(required_upstreams=["credit", "ner"],  # ner: nothing listens
                             api_key_sha256=[hash_key("k")])
    async with running_client(build_app(settings), wait_ready=False) as client:
        server = await client.get("/v2")
        live = await client.get("/v2/health/live")
        ready = await client.get("/v2/health/ready")
        unknown = await client.get("/v2/models/nope", headers={"X-API-Key": "k"})
        no_key = await client.post("/v2/models/credit/infer", content=b"{}")
    assert server.json()["name"] == "finfleet-gateway" and live.status_code == 200
    assert ready.status_code == 503 and ready.json() == {"ready": False}
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    assert no_key.status_code == 401 and credit.v2_calls == []
