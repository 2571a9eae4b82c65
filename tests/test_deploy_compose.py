"""docker-compose: the file validates with `docker-compose config`, API keys and the admin token
are required, only nginx is public, every long-running service is hardened and health-checked,
the models serve their registry from a writable volume their retrain job shares, and the
gateway, nginx and Prometheus point at services and ports that exist."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from kit.catalog import load_catalog
from tests.procs import require_binary

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG = load_catalog()
MODEL_SERVICES = tuple(CATALOG.names)
RETRAIN = {f"{name}-retrain" for name in MODEL_SERVICES}
ONE_SHOT = {"nginx-config", *RETRAIN}
KEY_DIGESTS = json.dumps(["0" * 64])
ADMIN_TOKEN = "test-admin-token"
REQUIRED = {"FINFLEET_API_KEY_SHA256": KEY_DIGESTS, "FINFLEET_ADMIN_TOKEN": ADMIN_TOKEN}


def require_tool(name: str) -> str:
    return require_binary(name, hint="run deploy/ci-tools.sh")


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("FINFLEET_") and k != "GATEWAY_CANDIDATE_UPSTREAMS"}
    return subprocess.run(
        [require_tool("docker-compose"), "-f", str(REPO_ROOT / "docker-compose.yml"),
         "--project-directory", str(REPO_ROOT), "config"],
        capture_output=True, text=True, timeout=120, env=base | env, cwd=REPO_ROOT,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    result = compose_config(REQUIRED)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def container_port(services: dict[str, dict], name: str) -> str:
    """The port a compose service listens on: its environment's, else its image's default (the
    table's port for a model image, the gateway Dockerfile's GATEWAY_PORT)."""
    env = services[name].get("environment", {})
    if f"{name.upper()}_PORT" in env:
        return env[f"{name.upper()}_PORT"]
    if name in ("gateway", "trainer", "monitor"):
        text = (REPO_ROOT / name / "Dockerfile").read_text()
        return re.search(rf"{name.upper()}_PORT=(\d+)", text).group(1)
    return str(CATALOG.service(name).port)


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_compose_refuses_to_start_without_api_keys_or_the_admin_token(missing: str) -> None:
    result = compose_config({k: v for k, v in REQUIRED.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_the_fleet_and_the_monitoring_profile(services) -> None:
    assert set(services) == {"redis", "predlog", *MODEL_SERVICES, *RETRAIN, "trainer", "monitor",
                             "gateway", "nginx-config", "nginx", "prometheus", "grafana",
                             "credit-candidate"}
    assert {n for n, s in services.items() if s.get("profiles")} == {"prometheus", "grafana",
                                                                     *RETRAIN, "credit-candidate"}
    assert all(services[n]["profiles"] == ["monitoring"] for n in ("prometheus", "grafana"))
    assert all(services[n]["profiles"] == ["retrain"] for n in RETRAIN)
    for name in MODEL_SERVICES:
        build = services[name]["build"]
        assert build["dockerfile"].endswith("deploy/docker/model.Dockerfile")
        assert build["args"] == {"SERVICE": name, "PORT": str(CATALOG.service(name).port)}
    assert services["gateway"]["environment"]["GATEWAY_API_KEY_SHA256"] == KEY_DIGESTS


def test_only_nginx_listens_beyond_loopback(services) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                assert name == "nginx" and port["published"] == 8080, name
            else:
                assert port.startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_long_running_services_are_hardened_and_health_checked(services) -> None:
    for name, service in services.items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        has_check = "healthcheck" in service or (
            "build" in service
            and "HEALTHCHECK" in (REPO_ROOT / service["build"]["dockerfile"]).read_text())
        if name not in {"prometheus", "grafana"}:
            assert has_check, f"{name} has no health check"


def test_gateway_upstreams_are_the_model_services_on_their_ports(services) -> None:
    upstreams = json.loads(services["gateway"]["environment"]["GATEWAY_UPSTREAMS"])
    assert sorted(upstreams) == sorted(MODEL_SERVICES)
    for model, url in upstreams.items():
        host, port = re.fullmatch(r"http://([a-z]+):(\d+)", url).groups()
        assert host == model
        assert container_port(services, host) == port
    assert container_port(services, "gateway") == "8000"
    for stateful in ("spending", "anomaly"):
        assert services[stateful]["environment"][f"{stateful.upper()}_REDIS_URL"] == (
            "redis://redis:6379/0")
        assert services[stateful]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_models_serve_their_registry_from_a_volume_their_retrain_job_shares(services) -> None:
    from kit.settings import ServiceSettings

    fields = set(ServiceSettings.model_fields)
    gateway = services["gateway"]["environment"]
    assert gateway["GATEWAY_UPSTREAM_ADMIN_TOKEN"] == ADMIN_TOKEN
    assert json.loads(gateway["GATEWAY_ADMIN_KEY_SHA256"]) == [], "gateway /admin closed unless set"
    for name in MODEL_SERVICES:
        service, prefix = services[name], name.upper()
        env = service["environment"]
        assert {k.removeprefix(f"{prefix}_").lower() for k in env} <= fields, env
        assert env[f"{prefix}_MODEL_DIR"] == "/models"
        assert f"{prefix}_MODEL_VERSION" not in env, "a pin stops a model following its alias"
        assert float(env[f"{prefix}_REGISTRY_POLL_SECONDS"]) > 0
        assert env[f"{prefix}_ADMIN_TOKEN"] == ADMIN_TOKEN, "the token the gateway presents"
        assert env[f"{prefix}_LOG_URL"] == (
            "postgresql://finfleet:finfleet@predlog:5432/predlog"), "one shared prediction log"
        volume = f"{name}-models:/models"
        assert [v.removesuffix(":rw") for v in service["volumes"]] == [volume]
        script = " ".join(service["command"])
        assert "seed_models.py /opt/finfleet/models /models" in script
        assert script.endswith("&& exec python /opt/finfleet/start.py serve")
        retrain = services[f"{name}-retrain"]
        assert retrain["image"] == f"finfleet/{name}-trainer:dev"
        assert retrain["build"]["target"] == "trainer"
        assert retrain["build"]["args"] == services[name]["build"]["args"]
        assert [v.removesuffix(":rw") for v in retrain["volumes"]] == [volume]
        assert (f"python /opt/finfleet/retrain.py {name} --model-dir /models"
                in " ".join(retrain["command"]))
        assert retrain["environment"] == {
            "TMPDIR": "/models/.staging", "AUTO_PROMOTE": "false",
            f"{prefix}_LOG_URL": env[f"{prefix}_LOG_URL"]}, "retrains from the model's own log"
        assert retrain["depends_on"][name]["condition"] == "service_healthy", (
            "the model seeds the volume first: a retrain is only ever a candidate")


def test_the_trainer_trains_into_each_models_own_volume(services) -> None:
    from trainer.settings import TrainerSettings

    trainer = services["trainer"]
    stores = json.loads(trainer["environment"]["TRAINER_MODEL_DIRS"])
    assert sorted(stores) == sorted(MODEL_SERVICES)
    mounts = dict(reversed(v.removesuffix(":rw").split(":")) for v in trainer["volumes"])
    for name, folder in stores.items():
        assert mounts[folder] == f"{name}-models", "the volume the model serves from"
    assert {k.removeprefix("TRAINER_").lower() for k in trainer["environment"]} <= set(
        TrainerSettings.model_fields)
    gateway = services["gateway"]["environment"]
    assert gateway["GATEWAY_TRAINER_URL"] == f"http://trainer:{container_port(services, 'trainer')}"


def test_bind_mounts_exist(services) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith(("/", ".")):
                assert Path(source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_every_compose_service_on_its_port(services) -> None:
    config = yaml.safe_load((REPO_ROOT / "deploy/monitoring/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    expected = {f"{m}:{container_port(services, m)}" for m in MODEL_SERVICES}
    services_of_their_own = {f"{name}:{container_port(services, name)}"
                             for name in ("gateway", "trainer", "monitor")}
    assert targets == expected | services_of_their_own


def test_the_monitor_reads_the_shared_log_and_every_models_volume(services) -> None:
    from monitor.settings import MonitorSettings

    monitor = services["monitor"]
    env = monitor["environment"]
    assert env["MONITOR_LOG_URL"] == services["credit"]["environment"]["CREDIT_LOG_URL"]
    stores = json.loads(env["MONITOR_MODEL_DIRS"])
    assert sorted(stores) == sorted(MODEL_SERVICES)
    mounts = {v.split(":")[1]: v.split(":") for v in monitor["volumes"]}
    for model, folder in stores.items():
        volume, _, mode = mounts[folder]
        assert mode == "ro" and f"{volume}:/models" in " ".join(services[model]["volumes"])
    assert {k.removeprefix("MONITOR_").lower() for k in env} <= set(MonitorSettings.model_fields)
    gateway = services["gateway"]["environment"]
    assert gateway["GATEWAY_MONITOR_URL"] == f"http://monitor:{container_port(services, 'monitor')}"


def test_nginx_serves_the_config_rendered_from_the_gateway_settings(services, monkeypatch) -> None:
    try:
        from gateway.nginx.render import render_from_settings
    except ImportError:
        pytest.skip("gateway: gateway/nginx/render.py does not exist yet")
    render = services["nginx-config"]
    assert render["command"][:4] == ["python", "-m", "gateway.nginx", "render"]
    out_file = Path(render["command"][render["command"].index("--out") + 1])
    mounts = dict(v.split(":")[:2] for v in services["nginx"]["volumes"])
    shared = {v.split(":")[0] for v in render["volumes"]} & set(mounts)
    assert shared, "nginx and nginx-config share a volume"
    assert [v for v in render["volumes"] if v.startswith(f"{shared.pop()}:{out_file.parent}")]
    nginx_command = " ".join(services["nginx"]["command"])
    assert f"-c /etc/finfleet/{out_file.name}" in nginx_command

    for key, value in services["nginx-config"]["environment"].items():
        if value is not None:  # null: taken from the shell, unset there
            monkeypatch.setenv(key, value)
    text = render_from_settings()
    assert "listen 0.0.0.0:8080;" in text
    assert re.search(r"server gateway:8000\b", text)
    prefix = services["nginx-config"]["environment"]["GATEWAY_NGINX_PREFIX"]
    assert f"pid {prefix}/nginx.pid;" in text and f"mkdir -p {prefix}" in nginx_command
    assert services["nginx-config"]["environment"] == services["gateway"]["environment"]


def test_tracing_is_off_unless_an_otlp_endpoint_is_given(services) -> None:
    """FINFLEET_OTLP_ENDPOINT reaches the gateway and every model as its own setting
    (docs/tracing.md); unset, each gets an empty one: no tracing."""
    from kit.settings import ServiceSettings

    assert "otlp_endpoint" in ServiceSettings.model_fields
    traced = compose_config({**REQUIRED, "FINFLEET_OTLP_ENDPOINT": "http://jaeger:4318/v1/traces"})
    assert traced.returncode == 0, traced.stderr
    on = yaml.safe_load(traced.stdout)["services"]
    for name in (*MODEL_SERVICES, "gateway"):
        variable = f"{name.upper()}_OTLP_ENDPOINT"
        assert services[name]["environment"][variable] == ""
        assert on[name]["environment"][variable] == "http://jaeger:4318/v1/traces"


CANDIDATE_URLS = json.dumps({"credit": "http://credit-candidate:8005"})


def test_the_candidates_profile_serves_credits_candidate_at_a_lower_cpu_weight(services) -> None:
    """`--profile candidates`: credit's `candidate` alias on a replica of its own, read-only on
    credit's volume, a quarter of the CPU weight (docs/deploy.md)."""
    candidate, credit = services["credit-candidate"], services["credit"]
    assert candidate["profiles"] == ["candidates"]
    assert candidate["image"] == credit["image"] and "build" not in candidate
    env = candidate["environment"]
    assert env["CREDIT_MODEL_ALIAS"] == "candidate" and "CREDIT_MODEL_VERSION" not in env
    assert {k: v for k, v in env.items() if k != "CREDIT_MODEL_ALIAS"} == credit["environment"]
    assert candidate["volumes"] == ["credit-models:/models:ro"], "credit seeds and writes it"
    assert candidate["command"] == ["python", "/opt/finfleet/start.py", "serve"]
    assert candidate["depends_on"]["credit"]["condition"] == "service_healthy"
    weights = {n: s.get("cpu_shares", 1024) for n, s in services.items()}
    assert weights["credit-candidate"] < min(w for n, w in weights.items()
                                             if n != "credit-candidate")
    assert "/health/live" in candidate["healthcheck"]["test"], "alive while no candidate exists"


def test_the_gateway_sends_canary_and_shadow_to_the_candidate_only_when_told(services) -> None:
    from gateway.settings import GatewaySettings

    for name in ("gateway", "nginx-config"):  # unset: the container gets no such variable
        assert services[name]["environment"]["GATEWAY_CANDIDATE_UPSTREAMS"] is None
    told = compose_config({**REQUIRED, "GATEWAY_CANDIDATE_UPSTREAMS": CANDIDATE_URLS})
    assert told.returncode == 0, told.stderr
    on = yaml.safe_load(told.stdout)["services"]
    env = on["gateway"]["environment"]
    settings = GatewaySettings(upstreams=json.loads(env["GATEWAY_UPSTREAMS"]),
                               candidate_upstreams=json.loads(env["GATEWAY_CANDIDATE_UPSTREAMS"]))
    for model, url in settings.candidate_upstreams.items():
        host, port = re.fullmatch(r"http://([a-z-]+):(\d+)", url).groups()
        assert on[host]["environment"][f"{model.upper()}_MODEL_ALIAS"] == "candidate"
        assert int(port) == CATALOG.service(model).port
