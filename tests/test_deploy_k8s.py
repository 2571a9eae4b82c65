"""Kubernetes: every overlay builds with kustomize, validates against the API schemas, and keeps
the rules of the house (probes on real routes, hardened pods, per-model HPA/PDB/CronJob,
NetworkPolicies that let only the gateway reach the models)."""

from __future__ import annotations

import copy
import importlib
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
K8S = REPO_ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
CATALOG = load_catalog()
MODEL_SERVICES = tuple(CATALOG.names)
KUBERNETES_VERSION = "1.30.0"
PROBE_ROUTES = {"/health/live", "/health/ready", "/metrics"}


def require_tool(name: str) -> str:
    return require_binary(name, hint="run deploy/ci-tools.sh")


def render(path: Path) -> list[dict]:
    result = subprocess.run([require_tool("kubectl"), "kustomize", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(K8S / "overlays" / request.param)


def find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind
            and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    out = []
    for doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            out.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "CronJob":
            out.append((doc["metadata"]["name"],
                        doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return out


def validator():
    try:
        return importlib.import_module("kubernetes_validate")
    except ImportError:
        message = "kubernetes-validate is not installed (run deploy/ci-tools.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_every_object_validates_against_the_kubernetes_schema(overlay) -> None:
    kv = validator()
    name, docs = overlay
    assert len(docs) > 40, f"{name} renders only {len(docs)} objects"
    for doc in docs:
        kv.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_rejects_a_broken_object(overlay) -> None:
    kv = validator()
    deployment = copy.deepcopy(one(overlay[1], "Deployment", "credit"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "pathh"] = "/health/ready"
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", [*MODEL_SERVICES, "gateway"])
def test_each_workload_has_service_hpa_and_pdb_on_its_pods(overlay, name: str) -> None:
    docs = overlay[1]
    deployment = one(docs, "Deployment", name)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert one(docs, "Service", name)["spec"]["selector"] == selector
    assert one(docs, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"] == selector
    hpa = one(docs, "HorizontalPodAutoscaler", name)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"


def test_replica_bounds_differ_per_model_and_per_overlay(overlay) -> None:
    name, docs = overlay
    bounds = {h["metadata"]["name"]: (h["spec"]["minReplicas"], h["spec"]["maxReplicas"])
              for h in find(docs, "HorizontalPodAutoscaler")}
    if name == "dev":
        assert set(bounds.values()) == {(1, 2)}
    else:
        assert len(set(bounds.values())) > 1, "each model scales on its own bounds"
        assert bounds["gateway"][0] >= 2 and bounds["intent"][0] >= 2


def test_pods_are_hardened_and_bounded(overlay) -> None:
    assert_hardened_and_bounded(overlay[1])


def assert_hardened_and_bounded(docs: list[dict]) -> None:
    for owner, spec in pod_specs(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True, owner
        assert spec.get("automountServiceAccountToken") is False, owner
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{owner}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][bound].keys(), where


@pytest.mark.parametrize("name", [*MODEL_SERVICES, "gateway", "monitor"])
def test_probes_use_the_right_paths_on_the_served_port(overlay, name: str) -> None:
    spec = one(overlay[1], "Deployment", name)["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert "startupProbe" in container
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    config = {}
    for source in container.get("envFrom", []):
        config |= one(overlay[1], "ConfigMap", source["configMapRef"]["name"])["data"]
    prefix = name.upper()
    assert int((env | config)[f"{prefix}_PORT"]) == ports["http"]
    if name in MODEL_SERVICES:
        assert ports["http"] == CATALOG.service(name).port, "k8s and services.toml disagree"
    assert (env | config)[f"{prefix}_HOST"] == "0.0.0.0"
    annotations = one(overlay[1], "Deployment", name)["spec"]["template"]["metadata"][
        "annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["http"]


@pytest.mark.parametrize("name", MODEL_SERVICES)
def test_retraining_cronjob_writes_the_volume_the_model_reads(overlay, name: str) -> None:
    docs = overlay[1]
    deployment = one(docs, "Deployment", name)["spec"]["template"]["spec"]
    cron = one(docs, "CronJob", f"{name}-retrain")
    job = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    claim = {v["name"]: v["persistentVolumeClaim"]["claimName"]
             for v in deployment["volumes"] if "persistentVolumeClaim" in v}["models"]
    assert one(docs, "PersistentVolumeClaim", claim)
    assert {"name": "models", "persistentVolumeClaim": {"claimName": claim}} in job["volumes"]
    trainer = job["containers"][0]
    assert trainer["image"].split(":")[0].endswith(f"finfleet/{name}-trainer")
    assert (f"python /opt/finfleet/retrain.py {name} --model-dir /models "
            f"--actor cronjob/{name}-retrain") in " ".join(trainer["command"])
    assert {"name": "models", "mountPath": "/models"} in trainer["volumeMounts"]
    server = deployment["containers"][0]
    # Read-write: promote and rollback (kubectl exec, or /admin through the gateway) write the
    # registry's aliases beside the versions.
    assert {"name": "models", "mountPath": "/models"} in server["volumeMounts"]
    env = {e["name"]: e for e in server["env"]}
    assert env[f"{name.upper()}_MODEL_DIR"]["value"] == "/models"
    # The init container seeds the image's versions and registry, in the pod and in the job
    # (so a fresh volume's first retrain is only a candidate).
    for spec in (deployment, job):
        seed = spec["initContainers"][0]
        assert seed["image"].split(":")[0] == server["image"].split(":")[0]
        assert seed["command"] == ["python", "/opt/finfleet/seed_models.py",
                                   "/opt/finfleet/models", "/models", name]
        assert {"name": "models", "mountPath": "/models"} in seed["volumeMounts"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"].get("suspend", False) is (overlay[0] == "dev")


def retrain_exit_codes() -> tuple[int, int]:
    import importlib.util

    path = REPO_ROOT / "deploy" / "docker" / "retrain.py"
    spec = importlib.util.spec_from_file_location("retrain", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GATE_REFUSED, module.PROMOTION_REFUSED


@pytest.mark.parametrize("name", MODEL_SERVICES)
def test_a_refused_promotion_fails_the_job_once_and_auto_promotion_is_off(overlay,
                                                                           name: str) -> None:
    cron = one(overlay[1], "CronJob", f"{name}-retrain")["spec"]["jobTemplate"]["spec"]
    assert cron["template"]["spec"]["restartPolicy"] == "Never"
    rules = cron["podFailurePolicy"]["rules"]
    assert rules == [{"action": "FailJob", "onExitCodes": {
        "containerName": "train", "operator": "In", "values": list(retrain_exit_codes())}}]
    env = {e["name"]: e for e in cron["template"]["spec"]["containers"][0]["env"]}
    assert env["AUTO_PROMOTE"]["value"] == "false", "auto-promotion is an overlay's choice"
    assert env["TMPDIR"]["value"] == "/models/.staging"
    # It retrains from the log the model writes (kit/retrain.py): the same Secret's URL.
    server = one(overlay[1], "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    served = {e["name"]: e for e in server["env"]}
    log_url = f"{name.upper()}_LOG_URL"
    assert secret_ref(env, log_url) == secret_ref(served, log_url)


def secret_ref(env: dict, name: str) -> dict:
    ref = env[name]["valueFrom"]["secretKeyRef"]
    assert ref.get("optional", False) is False, f"{name}: a missing Secret must stop the pod"
    return ref


def test_models_follow_the_registry_alias_with_an_admin_token_from_a_secret(overlay) -> None:
    import base64

    name, docs = overlay
    assert not [c for c in find(docs, "ConfigMap") if "model-version" in c["metadata"]["name"]]
    refs = []
    for model in MODEL_SERVICES:
        container = one(docs, "Deployment", model)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        prefix = model.upper()
        assert f"{prefix}_MODEL_VERSION" not in env, "a pin stops a model following its alias"
        assert f"{prefix}_MODEL_ALIAS" not in env or env[f"{prefix}_MODEL_ALIAS"]["value"] == (
            "production")
        assert 0 < float(env[f"{prefix}_REGISTRY_POLL_SECONDS"]["value"]) <= 30
        refs.append(secret_ref(env, f"{prefix}_ADMIN_TOKEN"))
    gateway = one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in gateway["env"]}
    refs.append(secret_ref(env, "GATEWAY_UPSTREAM_ADMIN_TOKEN"))
    assert len({(r["name"], r["key"]) for r in refs}) == 1, "one token, both ends"
    digests = secret_ref(env, "GATEWAY_ADMIN_KEY_SHA256")
    assert digests["name"] == refs[0]["name"] and digests["key"] == "admin-key-sha256"
    secrets = find(docs, "Secret", refs[0]["name"])
    if name == "prod":
        assert secrets == [], "prod admin secrets are created out of band, never committed"
        return
    data = {k: base64.b64decode(v).decode() for k, v in secrets[0]["data"].items()}
    assert data[refs[0]["key"]]
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in json.loads(data["admin-key-sha256"]))


def test_gateway_takes_api_keys_from_a_secret_and_upstreams_from_real_services(overlay) -> None:
    name, docs = overlay
    container = one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    keys = {e["name"]: e for e in container["env"]}["GATEWAY_API_KEY_SHA256"]
    secret_name = keys["valueFrom"]["secretKeyRef"]["name"]
    secrets = find(docs, "Secret", secret_name)
    if name == "prod":
        assert secrets == [], "prod keys are created out of band, never committed"
    else:
        import base64

        digests = json.loads(base64.b64decode(secrets[0]["data"]["api-key-sha256"]))
        assert digests and all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests)
    config_name = container["envFrom"][0]["configMapRef"]["name"]
    upstreams = json.loads(one(docs, "ConfigMap", config_name)["data"]["GATEWAY_UPSTREAMS"])
    assert sorted(upstreams) == sorted(MODEL_SERVICES)
    for model, url in upstreams.items():
        host, port = re.fullmatch(r"http://([a-z-]+):(\d+)", url).groups()
        service_ports = [p["port"] for p in one(docs, "Service", host)["spec"]["ports"]]
        assert host == model and int(port) in service_ports


def test_env_names_are_real_settings_fields(overlay) -> None:
    kit_settings = importlib.import_module("kit.settings").ServiceSettings
    fields = set(kit_settings.model_fields)
    for name in MODEL_SERVICES:
        container = one(overlay[1], "Deployment", name)["spec"]["template"]["spec"][
            "containers"][0]
        for env in container["env"]:
            assert env["name"].startswith(f"{name.upper()}_")
            assert env["name"][len(name) + 1:].lower() in fields, env["name"]
    try:
        gateway_settings = importlib.import_module("gateway.settings").GatewaySettings
    except ImportError:
        pytest.skip("gateway: gateway/settings.py does not exist yet")
    gateway_fields = set(gateway_settings.model_fields)
    container = one(overlay[1], "Deployment", "gateway")["spec"]["template"]["spec"][
        "containers"][0]
    config = one(overlay[1], "ConfigMap", container["envFrom"][0]["configMapRef"]["name"])
    for key in [*config["data"], *(e["name"] for e in container["env"])]:
        assert key.removeprefix("GATEWAY_").lower() in gateway_fields, key


def selects(selector: dict, labels: dict) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def ingress_allowed(docs: list[dict], source: dict | None, target_labels: dict,
                    namespace: str) -> bool:
    """NetworkPolicy ingress semantics for one source pod (None: outside the namespace)."""
    policies = [p for p in find(docs, "NetworkPolicy")
                if selects(p["spec"]["podSelector"], target_labels)
                and "Ingress" in p["spec"]["policyTypes"]]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            if peers is None:
                return True
            for peer in peers:
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    if source is not None and selects(peer["podSelector"], source):
                        return True
                elif "namespaceSelector" in peer and source is None:
                    continue
    return False


def test_network_policies_let_only_the_gateway_reach_the_models(overlay) -> None:
    docs = overlay[1]
    labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
              for d in find(docs, "Deployment")}
    namespace = docs[0]["metadata"].get("namespace", "")
    for model in MODEL_SERVICES:
        assert ingress_allowed(docs, labels["gateway"], labels[model], namespace), model
        assert not ingress_allowed(docs, None, labels[model], namespace), model
        for other in MODEL_SERVICES:
            if other != model:
                assert not ingress_allowed(docs, labels[other], labels[model], namespace)
    assert ingress_allowed(docs, None, labels["gateway"], namespace)
    redis_clients = {n for n in labels if n != "redis"
                     and ingress_allowed(docs, labels[n], labels["redis"], namespace)}
    assert redis_clients == {"gateway", "spending", "anomaly"}
    # The prediction log: the models write it, the retrain jobs read it; nothing else.
    retrain_pods = [one(docs, "CronJob", f"{m}-retrain")["spec"]["jobTemplate"]["spec"][
        "template"]["metadata"]["labels"] for m in MODEL_SERVICES]
    for source in [labels[m] for m in MODEL_SERVICES] + retrain_pods:
        assert ingress_allowed(docs, source, labels["predlog"], namespace), source
    assert not ingress_allowed(docs, labels["gateway"], labels["predlog"], namespace)
    assert not ingress_allowed(docs, None, labels["predlog"], namespace)


def probe_paths(docs: list[dict]) -> set[str]:
    paths = set()
    for _, spec in pod_specs(docs):
        for container in spec["containers"]:
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                http = container.get(probe, {}).get("httpGet")
                if http:
                    paths.add(http["path"])
    return paths


def build_service_app(name: str, model_dir: Path):
    """The service's real app (its `build_app`), or a skip naming the service not yet written."""
    from kit.settings import HttpSettings, ServiceSettings

    module_name = "gateway.app" if name == "gateway" else f"services.{name}.app"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            pytest.skip(f"{name}: {module_name} does not exist yet")
        raise
    settings_types = [value for value in vars(module).values() if isinstance(value, type)
                      and issubclass(value, HttpSettings)
                      and value not in (HttpSettings, ServiceSettings)]
    assert len(settings_types) == 1, f"{module_name} imports one settings class"
    # Nothing trained here: the probes must answer all the same (ready says why it is not).
    overrides = {} if name == "gateway" else {"model_dir": model_dir}
    return module.build_app(settings_types[0](**overrides))


@pytest.mark.parametrize("name", [*MODEL_SERVICES, "gateway"])
async def test_probe_paths_are_real_routes(overlay, name: str, tmp_path: Path) -> None:
    from kit.testing import running_client

    app = build_service_app(name, tmp_path)
    routes = set(app.openapi()["paths"])
    wanted = probe_paths(overlay[1]) | {"/metrics"}
    assert wanted <= PROBE_ROUTES
    assert wanted <= routes, f"{name} lacks {wanted - routes}"
    async with running_client(app, wait_ready=False) as client:
        for path in wanted:
            assert (await client.get(path)).status_code != 404, path
        assert (await client.get("/health/live")).status_code == 200
        ready = await client.get("/health/ready")
        assert ready.status_code in {200, 503}
        assert ready.headers["content-type"].startswith("application/")
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and "finfleet_http_requests" in metrics.text


def with_component(tmp_path: Path, component: str) -> tuple[list[dict], list[dict], set]:
    """The prod overlay rendered without and with `components/<component>`, and the
    (kind, name) of every object the component changed."""
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(K8S / "overlays" / "prod", tmp_path)],
        "components": [os.path.relpath(K8S / "components" / component, tmp_path)],
    }))
    before, after = render(K8S / "overlays" / "prod"), render(tmp_path)
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    changed = {key(d) for d in after if d != next(b for b in before if key(b) == key(d))}
    return before, after, changed


def test_auto_promotion_is_one_component_that_changes_only_the_cronjobs(tmp_path: Path) -> None:
    """The switch in docs/deploy.md: an overlay adds components/auto-promote."""
    _, after, changed = with_component(tmp_path, "auto-promote")
    assert changed == {("CronJob", f"{m}-retrain") for m in MODEL_SERVICES}
    for model in MODEL_SERVICES:
        job = one(after, "CronJob", f"{model}-retrain")["spec"]["jobTemplate"]["spec"]
        container = job["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env == {"AUTO_PROMOTE": "true", "TMPDIR": "/models/.staging",
                       f"{model.upper()}_LOG_URL": None}  # the URL comes from the Secret
        assert "retrain.py" in " ".join(container["command"])


def test_tracing_is_one_component_that_sets_the_otlp_endpoint_of_gateway_and_models(
        tmp_path: Path) -> None:
    """The switch in docs/tracing.md: an overlay adds components/tracing."""
    before, after, changed = with_component(tmp_path, "tracing")
    assert changed == {("Deployment", name) for name in (*MODEL_SERVICES, "gateway")}
    for name in (*MODEL_SERVICES, "gateway"):
        container = one(after, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert not any("OTEL_EXPORTER_OTLP_ENDPOINT" in str(d) for d in before), "off in the base"


def test_one_monitor_reads_the_shared_log_and_every_models_volume_read_only(overlay) -> None:
    from monitor.app import build_app
    from monitor.settings import MonitorSettings

    docs = overlay[1]
    deployment = one(docs, "Deployment", "monitor")
    assert deployment["spec"]["replicas"] == 1 and not find(docs, "HorizontalPodAutoscaler",
                                                            "monitor")
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert {name.removeprefix("MONITOR_").lower() for name in env} <= set(
        MonitorSettings.model_fields)
    credit = one(docs, "Deployment", "credit")["spec"]["template"]["spec"]["containers"][0]
    credit_url = next(e for e in credit["env"] if e["name"] == "CREDIT_LOG_URL")
    assert env["MONITOR_LOG_URL"]["valueFrom"] == credit_url["valueFrom"]  # the models' server
    stores = json.loads(env["MONITOR_MODEL_DIRS"]["value"])
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    claims = {v["name"]: v.get("persistentVolumeClaim") for v in spec["volumes"]}
    for model, folder in stores.items():
        mount = mounts[folder]
        assert mount["readOnly"] is True
        assert claims[mount["name"]] == {"claimName": f"{model}-models", "readOnly": True}
        assert one(docs, "PersistentVolumeClaim", f"{model}-models")
    assert sorted(stores) == sorted(MODEL_SERVICES)
    routes = set(build_app(MonitorSettings(models=["credit"])).openapi()["paths"])
    assert {"/health/live", "/health/ready", "/metrics"} <= routes
    gateway = one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    config = one(docs, "ConfigMap", gateway["envFrom"][0]["configMapRef"]["name"])["data"]
    assert config["GATEWAY_MONITOR_URL"] == "http://monitor:8095"


def test_only_the_gateway_reaches_the_monitor_and_the_monitor_reaches_the_log(overlay) -> None:
    docs = overlay[1]
    labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
              for d in find(docs, "Deployment")}
    namespace = docs[0]["metadata"].get("namespace", "")
    assert ingress_allowed(docs, labels["gateway"], labels["monitor"], namespace)
    assert not ingress_allowed(docs, None, labels["monitor"], namespace)
    for model in MODEL_SERVICES:
        assert not ingress_allowed(docs, labels[model], labels["monitor"], namespace)
        assert not ingress_allowed(docs, labels["monitor"], labels[model], namespace)
    assert ingress_allowed(docs, labels["monitor"], labels["predlog"], namespace)
    assert not ingress_allowed(docs, labels["gateway"], labels["predlog"], namespace)


def test_the_trainer_writes_each_models_volume_and_only_the_gateway_reaches_it(overlay) -> None:
    docs = overlay[1]
    deployment = one(docs, "Deployment", "trainer")
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 1  # the jobs folder has one writer
    container = spec["containers"][0]
    assert container["image"].split(":")[0].endswith("finfleet/trainer")
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in spec["volumes"] if "persistentVolumeClaim" in v}
    assert claims[mounts[env["TRAINER_JOBS_DIR"]]] == "trainer-jobs"
    for model, path in json.loads(env["TRAINER_MODEL_DIRS"]).items():
        served = one(docs, "Deployment", model)["spec"]["template"]["spec"]
        model_claim = {v["name"]: v["persistentVolumeClaim"]["claimName"]
                       for v in served["volumes"] if "persistentVolumeClaim" in v}["models"]
        assert claims[mounts[path]] == model_claim, model
    assert set(json.loads(env["TRAINER_MODEL_DIRS"])) == set(MODEL_SERVICES)
    config = one(docs, "ConfigMap", next(d["metadata"]["name"] for d in find(docs, "ConfigMap")
                                         if d["metadata"]["name"].startswith("gateway-config")))
    service = one(docs, "Service", "trainer")
    port = service["spec"]["ports"][0]["port"]
    assert config["data"]["GATEWAY_TRAINER_URL"] == f"http://trainer:{port}"
    labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
              for d in find(docs, "Deployment")}
    namespace = docs[0]["metadata"].get("namespace", "")
    assert ingress_allowed(docs, labels["gateway"], labels["trainer"], namespace)
    assert not ingress_allowed(docs, None, labels["trainer"], namespace)
    for model in MODEL_SERVICES:
        assert not ingress_allowed(docs, labels[model], labels["trainer"], namespace)


CANDIDATES = K8S / "components" / "candidates"


def overlay_with(tmp_path: Path, overlay: str, *components: str) -> list[dict]:
    """An overlay rendered with `components` listed in it, as docs/deploy.md says to turn them
    on (so the overlay's namespace, images and patches apply to what they add)."""
    import shutil

    source = K8S / "overlays" / overlay
    folder = tmp_path / overlay
    shutil.copytree(source, folder)
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    kustomization["resources"] = [
        os.path.relpath((source / r).resolve(), folder) if (source / r).is_dir() else r
        for r in kustomization["resources"]]
    kustomization["components"] = [os.path.relpath(K8S / "components" / c, folder)
                                   for c in components]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(folder)


@pytest.fixture(scope="module", params=OVERLAYS)
def with_candidates(request, tmp_path_factory) -> tuple[str, list[dict]]:
    tmp_path = tmp_path_factory.mktemp("candidates")
    return request.param, overlay_with(tmp_path, request.param, "candidates")


def candidate_deployments(docs: list[dict]) -> dict[str, dict]:
    """Model name → the Deployment serving its `candidate` alias."""
    out = {}
    for deployment in find(docs, "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        for env in container.get("env", []):
            if env["name"].endswith("_MODEL_ALIAS") and env.get("value") == "candidate":
                out[env["name"].removesuffix("_MODEL_ALIAS").lower()] = deployment
    return out


def gateway_config(docs: list[dict]) -> dict[str, str]:
    container = one(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    return one(docs, "ConfigMap", container["envFrom"][0]["configMapRef"]["name"])["data"]


def quantity(value: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, scale in units.items():
        if str(value).endswith(suffix):
            return float(str(value).removesuffix(suffix)) * scale
    return float(value)


def test_the_candidates_component_builds_validates_and_is_hardened(with_candidates) -> None:
    kv = validator()
    name, docs = with_candidates
    for doc in docs:
        kv.validate(doc, KUBERNETES_VERSION, strict=True)
    assert_hardened_and_bounded(docs)
    assert sorted(candidate_deployments(docs)) == ["credit"]
    deployment = one(docs, "Deployment", "credit-candidate")
    production = one(docs, "Deployment", "credit")
    assert deployment["metadata"]["namespace"] == production["metadata"]["namespace"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == production["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":dev" if name == "dev" else ":0.1.0"), "the overlay's image tag"


def test_the_candidate_replica_follows_the_candidate_alias_on_credits_volume_read_only(
        with_candidates) -> None:
    docs = with_candidates[1]
    deployment = one(docs, "Deployment", "credit-candidate")
    spec = deployment["spec"]["template"]["spec"]
    production = one(docs, "Deployment", "credit")["spec"]["template"]["spec"]
    container, served = spec["containers"][0], production["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["CREDIT_MODEL_ALIAS"]["value"] == "candidate"
    assert "CREDIT_MODEL_VERSION" not in env, "a pin stops it following the alias"
    others = [e for e in container["env"] if e["name"] != "CREDIT_MODEL_ALIAS"]
    assert others == served["env"], "otherwise the production replica's settings and Secrets"
    assert container["ports"] == served["ports"]
    assert deployment["spec"]["replicas"] == 1 and "initContainers" not in spec
    # Read-only: the registry is written only through /admin, which goes to production.
    claims = {v["name"]: v.get("persistentVolumeClaim") for v in spec["volumes"]}
    assert claims["models"] == {"claimName": "credit-models", "readOnly": True}
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in container[
        "volumeMounts"]
    # Alive but unready while no `candidate` alias exists: not restarted, out of its Service.
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health/live", "port": "http"}
    for bound in ("cpu", "memory"):
        assert quantity(container["resources"]["requests"][bound]) < quantity(
            served["resources"]["requests"][bound]), f"smaller {bound} request"
    assert container["resources"]["limits"] == served["resources"]["limits"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]


def test_the_candidate_has_a_service_of_its_own_and_no_hpa_or_pdb(with_candidates) -> None:
    docs = with_candidates[1]
    labels = one(docs, "Deployment", "credit-candidate")["spec"]["template"]["metadata"][
        "labels"]
    production = one(docs, "Deployment", "credit")["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "finfleet", "Prometheus keeps part-of=finfleet"
    service = one(docs, "Service", "credit-candidate")["spec"]
    assert selects({"matchLabels": service["selector"]}, labels)
    assert not selects({"matchLabels": service["selector"]}, production)
    assert not selects({"matchLabels": one(docs, "Service", "credit")["spec"]["selector"]},
                       labels), "production's Service never sends callers to the candidate"
    for pdb in find(docs, "PodDisruptionBudget"):  # a candidate may go away
        assert not selects(pdb["spec"]["selector"], labels), pdb["metadata"]["name"]
    assert not [h for h in find(docs, "HorizontalPodAutoscaler")
                if h["spec"]["scaleTargetRef"]["name"] == "credit-candidate"]


def pod_priority(docs: list[dict], spec: dict) -> int:
    """A pod's priority: its class's value; none named: the cluster default, 0 (no class of
    ours is a globalDefault)."""
    name = spec.get("priorityClassName")
    return one(docs, "PriorityClass", name)["value"] if name else 0


def test_the_candidate_runs_below_every_other_pods_priority_and_never_preempts(
        with_candidates) -> None:
    docs = with_candidates[1]
    priority = one(docs, "PriorityClass", "finfleet-candidate")
    assert priority["globalDefault"] is False and priority["preemptionPolicy"] == "Never"
    assert "namespace" not in priority["metadata"], "cluster-scoped"
    candidates = {d["metadata"]["name"] for d in candidate_deployments(docs).values()}
    for owner, spec in pod_specs(docs):
        if owner in candidates:
            assert spec["priorityClassName"] == "finfleet-candidate", owner
        else:
            assert pod_priority(docs, spec) > priority["value"], owner


def test_the_gateway_sends_canary_and_shadow_to_the_candidate_service(with_candidates) -> None:
    from gateway.settings import GatewaySettings

    docs = with_candidates[1]
    config = gateway_config(docs)
    candidates = json.loads(config["GATEWAY_CANDIDATE_UPSTREAMS"])
    settings = GatewaySettings(upstreams=json.loads(config["GATEWAY_UPSTREAMS"]),
                               candidate_upstreams=candidates)
    deployments = candidate_deployments(docs)
    assert sorted(settings.candidate_upstreams) == sorted(deployments)
    assert set(candidates) <= set(settings.upstreams)
    for model, url in candidates.items():
        host, port = re.fullmatch(r"http://([a-z-]+):(\d+)", url).groups()
        service = one(docs, "Service", host)["spec"]
        pod = deployments[model]["spec"]["template"]
        assert selects({"matchLabels": service["selector"]}, pod["metadata"]["labels"]), host
        ports = {p["port"]: p["targetPort"] for p in service["ports"]}
        named = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
        assert named[ports[int(port)]] == CATALOG.service(model).port


def test_candidate_env_names_are_real_settings_fields(with_candidates) -> None:
    from gateway.settings import GatewaySettings
    from kit.settings import ServiceSettings

    docs = with_candidates[1]
    for model, deployment in candidate_deployments(docs).items():
        for env in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
            assert env["name"].startswith(f"{model.upper()}_")
            assert env["name"][len(model) + 1:].lower() in ServiceSettings.model_fields
    for key in gateway_config(docs):
        assert key.removeprefix("GATEWAY_").lower() in GatewaySettings.model_fields, key


def test_only_the_gateway_reaches_the_candidate_and_it_reaches_only_the_log(
        with_candidates) -> None:
    docs = with_candidates[1]
    labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
              for d in find(docs, "Deployment")}
    namespace = docs[0]["metadata"].get("namespace", "")
    candidate = labels["credit-candidate"]
    assert ingress_allowed(docs, labels["gateway"], candidate, namespace)
    assert not ingress_allowed(docs, None, candidate, namespace)
    for name, source in labels.items():
        if name not in {"gateway", "credit-candidate"}:
            assert not ingress_allowed(docs, source, candidate, namespace), name
    for model in MODEL_SERVICES:
        assert not ingress_allowed(docs, candidate, labels[model], namespace), model
    assert ingress_allowed(docs, candidate, labels["predlog"], namespace)
    assert not ingress_allowed(docs, candidate, labels["redis"], namespace)
    assert not ingress_allowed(docs, labels["gateway"], labels["predlog"], namespace)


def test_without_the_component_there_is_no_candidate_and_with_it_only_these_change(
        with_candidates, tmp_path: Path) -> None:
    name, after = with_candidates
    before = render(K8S / "overlays" / name)
    assert not find(before, "PriorityClass") and not candidate_deployments(before)
    assert not [d for d in before if d["metadata"]["name"].endswith("-candidate")
                or d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
                == "candidate"]
    assert "GATEWAY_CANDIDATE_UPSTREAMS" not in gateway_config(before)

    def key(doc: dict) -> tuple[str, str]:
        generated = doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith(
            "gateway-config-")
        return doc["kind"], "gateway-config" if generated else doc["metadata"]["name"]

    old, new = {key(d): d for d in before}, {key(d): d for d in after}
    assert set(new) - set(old) == {
        ("PriorityClass", "finfleet-candidate"), ("Deployment", "credit-candidate"),
        ("Service", "credit-candidate"), ("NetworkPolicy", "candidates-from-gateway"),
        ("NetworkPolicy", "predlog-from-candidates")}
    assert set(old) <= set(new)
    changed = {k for k in old if old[k] != new[k]}
    assert changed == {("ConfigMap", "gateway-config"), ("Deployment", "gateway")}
    assert new[("ConfigMap", "gateway-config")]["data"] == {
        **old[("ConfigMap", "gateway-config")]["data"],
        "GATEWAY_CANDIDATE_UPSTREAMS": '{"credit": "http://credit-candidate:8005"}'}
    # The gateway rolls out: only the generated ConfigMap's name (its hash) changed.
    gateway = copy.deepcopy(new[("Deployment", "gateway")])
    gateway["spec"]["template"]["spec"]["containers"][0]["envFrom"] = old[
        ("Deployment", "gateway")]["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert gateway == old[("Deployment", "gateway")]


def test_tracing_listed_after_the_candidates_traces_them_too(tmp_path: Path) -> None:
    docs = overlay_with(tmp_path, "prod", "candidates", "tracing")
    for name in ("credit-candidate", "credit", "gateway"):
        container = one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
