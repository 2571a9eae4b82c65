"""The MLflow registry: the same `Registry` as the file registry, kept in an MLflow tracking server.

It speaks MLflow's REST API (`/api/2.0/mlflow/...`, and `/api/2.0/mlflow-artifacts/...` for the
files, so the server must serve artifacts: `--serve-artifacts`, MLflow 3's default) with the
standard library alone, so nothing that serves or trains needs the `mlflow` package.

How finfleet's registry maps onto MLflow's, for registered model `<name>`:

- a version (`20261201-085055`) is an MLflow model version tagged `finfleet.version`; MLflow's own
  number (1, 2, …) stays MLflow's, shown in the descriptions and the history entries;
- an alias (`production`, `candidate`) IS an MLflow registered-model alias, so
  `models:/credit@production` means the same in MLflow's own tools;
- the history is one registered-model tag per change, `finfleet.history.000007` = the change as
  JSON; the highest number is the `seq`;
- `register` logs a run in the experiment `finfleet-<name>` (parameters, metrics, tags, the report
  and every file of the artifact) and creates the model version from the run's `model/` folder.

Writers: MLflow has no compare-and-swap, so a change takes a lock first: it creates the registered
model `<name>.finfleet-lock`, which only one writer can do at a time (the name is the database's
primary key), and deletes it when done. Two `promote` commands at once, on one machine or two,
therefore apply one after the other and never lose a change or reuse a seq. A writer that dies
holding the lock holds it for `lock_ttl_s` (the lock records its expiry), after which the next
writer breaks it; a writer paused for longer than that could overlap with the next one — that is as
safe as MLflow allows. Within one change the alias moves first and the history entry follows, so a
reader between the two sees the new alias under the old seq, never a seq whose alias has not moved.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit.artifacts import MANIFEST, Artifact, ArtifactError, ArtifactStore, flatten, sha256_file
from kit.registry import PRODUCTION, Aliases, Change, RegistryError, Resolved, _check_alias

log = logging.getLogger("finfleet.registry.mlflow")

VERSION_TAG = "finfleet.version"
MANIFEST_SHA_TAG = "finfleet.manifest_sha256"
HISTORY_PREFIX = "finfleet.history."
LOCK_SUFFIX = ".finfleet-lock"
MODEL_FOLDER = "model"  # the run's artifact folder a model version is made from
REPORT = "report.md"
# Registered-model tag values are a VARCHAR(5000) in MLflow's SQL schema (validation says 100,000,
# but MySQL and PostgreSQL enforce the column), run tags 8000, parameters 6000.
REGISTRY_TAG_LIMIT = 5000
RUN_TAG_LIMIT = 8000
PARAM_LIMIT = 6000
KEY_LIMIT = 250
BATCH_PARAMS = 100
BATCH_METRICS = 1000
SETTLE_READS = 3
_BAD_KEY = re.compile(r"[^\w.\- /]")


class MlflowApiError(RegistryError):
    """An error answer from the MLflow server: `code` is MLflow's error_code
    (RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS, INVALID_PARAMETER_VALUE, …)."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class MlflowRegistry:
    """The registry of the model `name` in the MLflow server at `uri` (http or https).

    `cache_dir` is where `fetch` puts downloaded versions (`cache_dir/<name>/<version>/`, the same
    layout as the file registry, so a service's `model_dir` is its cache). Credentials follow
    MLflow's own variables: MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME and
    MLFLOW_TRACKING_PASSWORD (basic)."""

    def __init__(self, uri: str, name: str, *, cache_dir: Path | str,
                 experiment: str | None = None, timeout_s: float = 30.0,
                 lock_ttl_s: float = 30.0, lock_wait_s: float = 60.0,
                 token: str | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(uri)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise RegistryError(
                f"MLflow tracking URI {uri!r} is not an MLflow server's http(s) URL: finfleet "
                "talks to a running `mlflow server` (file: and database URIs are the server's)")
        self.uri = uri.rstrip("/")
        self.name = name
        self.cache_dir = Path(cache_dir)
        self.store = ArtifactStore(self.cache_dir, name)
        self.experiment = experiment or f"finfleet-{name}"
        self.timeout_s = timeout_s
        self.lock_ttl_s = lock_ttl_s
        self.lock_wait_s = lock_wait_s
        self._headers = _auth_headers(token or os.environ.get("MLFLOW_TRACKING_TOKEN"),
                                      username or os.environ.get("MLFLOW_TRACKING_USERNAME"),
                                      password or os.environ.get("MLFLOW_TRACKING_PASSWORD"))
        # MLflow version number → its model version; a version's tags are written once, at create.
        self._known: dict[str, dict[str, Any]] = {}
        self._model_created: Any = None

    def __repr__(self) -> str:
        return f"MlflowRegistry({self.uri!r}, {self.name!r})"

    # ---- reading ----------------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Our version strings of the model versions registered for `name`, oldest first."""
        return sorted(self._by_version())

    def aliases(self) -> Aliases:
        current, _, seq = self._state()
        return Aliases(current, seq)

    def history(self) -> list[Change]:
        try:
            model = self._registered_model()
        except MlflowApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return []
            raise
        return [Change.from_dict(raw) for _, raw in _history_entries(model)]

    def resolve(self, alias: str = PRODUCTION) -> Resolved | None:
        """The alias's version, or (for `production` when the model has no alias at all) the
        newest version, marked as a fallback; None when there is nothing to serve."""
        current, any_alias, seq = self._state()
        if alias in current:
            return Resolved(alias, current[alias], seq)
        if alias == PRODUCTION and not any_alias:
            available = self.versions()
            if available:
                return Resolved(alias, available[-1], 0, fallback=True)
        return None

    def fetch(self, version: str) -> Artifact:
        """The version's files in `cache_dir/<name>/<version>/`, downloaded once (into a
        temporary folder, renamed into place when complete) and every file checked against the
        manifest's sha256, the manifest against the sha256 registered with the version."""
        model_version = self._model_version_of(version)
        expected = _tags(model_version).get(MANIFEST_SHA_TAG)
        target = self.store.model_root / version
        if (target / MANIFEST).is_file():
            try:
                return self._verified(version, expected)
            except ArtifactError as exc:
                log.warning("cached %s/%s failed its check (%s); downloading it again",
                            self.name, version, exc)
                self._discard(target)
        source = _proxied_path(model_version.get("source", ""), version)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # Beside model_root, not in it: a half-downloaded folder must never look like a version.
        temp = Path(tempfile.mkdtemp(prefix=f".{self.name}-fetch-", dir=self.cache_dir))
        staged = temp / self.name / version
        try:
            self._download(f"{source}/{MANIFEST}", staged / MANIFEST)
            if expected and sha256_file(staged / MANIFEST) != expected:
                raise ArtifactError(
                    f"sha256 mismatch for {MANIFEST} of {self.name}/{version} from MLflow: it is "
                    f"not the manifest registered with the version ({expected[:12]}…)")
            manifest = json.loads((staged / MANIFEST).read_text())
            for relative in manifest.get("files", {}):
                self._download(f"{source}/{_quote_path(relative)}", staged / relative)
            checked = ArtifactStore(temp, self.name).load(version)  # every file's sha256
            for folder in (staged, *staged.rglob("*")):
                if folder.is_dir():
                    folder.chmod(0o755)
            self.store.model_root.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staged, target)
            except OSError:
                if not (target / MANIFEST).is_file():  # not a concurrent fetch that won
                    raise
                return self._verified(version, expected)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return Artifact(self.name, version, target, checked.manifest)

    def manifest(self, version: str) -> dict[str, Any]:
        """The version's manifest alone (what `models list` shows), from the cache or downloaded
        by itself, checked against the sha256 registered with the version."""
        model_version = self._model_version_of(version)
        expected = _tags(model_version).get(MANIFEST_SHA_TAG)
        cached = self.store.model_root / version / MANIFEST
        if cached.is_file() and (not expected or sha256_file(cached) == expected):
            return json.loads(cached.read_text())
        source = _proxied_path(model_version.get("source", ""), version)
        request = urllib.request.Request(
            f"{self.uri}/api/2.0/mlflow-artifacts/artifacts/{source}/{MANIFEST}",
            headers=self._headers)
        with self._open(request) as resp:
            raw = resp.read()
        if expected and hashlib.sha256(raw).hexdigest() != expected:
            raise ArtifactError(f"sha256 mismatch for {MANIFEST} of {self.name}/{version} from "
                                f"MLflow: not the manifest registered with the version")
        return json.loads(raw)

    # ---- writing ----------------------------------------------------------------------------

    def set_alias(self, alias: str, version: str | None, *, actor: str, reason: str,
                  gate: dict[str, Any] | None = None, forced: bool = False) -> Change:
        """Point the MLflow alias at `version` (None removes it) and append the change to the
        history, under the writers' lock."""
        _check_alias(alias)
        if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
            raise RegistryError(f"alias {alias!r} is reserved by MLflow ('latest', 'v<number>')")
        with self._locked(actor):
            by_version = self._by_version()
            if version is not None and version not in by_version:
                raise RegistryError(f"'{self.name}' has no version {version!r} in MLflow; "
                                    f"available: {', '.join(sorted(by_version)) or 'none'}")
            model = self._registered_model()
            ours = self._ours_by_number()
            raw_aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
            from_number = raw_aliases.get(alias)
            entries = _history_entries(model)
            change = Change(
                seq=(entries[-1][0] if entries else 0) + 1, alias=alias,
                from_version=ours.get(from_number) if from_number else None, to_version=version,
                at=datetime.now(UTC).isoformat(timespec="milliseconds"), actor=actor,
                reason=reason, gate=gate, forced=forced)
            to_number = str(by_version[version]["version"]) if version is not None else None
            if to_number is not None:
                self._api("POST", "registered-models/alias",
                          {"name": self.name, "alias": alias, "version": to_number})
            elif from_number is not None:
                self._api("DELETE", "registered-models/alias", {"name": self.name, "alias": alias})
            entry = _history_value(change, from_number, to_number)
            self._api("POST", "registered-models/set-tag",
                      {"name": self.name, "key": f"{HISTORY_PREFIX}{change.seq:06d}",
                       "value": entry})
        return change

    def register(self, artifact: Artifact, *, actor: str, reason: str) -> None:
        """Log an MLflow run for a saved local version (parameters, metrics, tags, the report and
        every file) and create the model version from it. A version already in MLflow is left
        as it is."""
        manifest = artifact.manifest
        manifest_sha = sha256_file(artifact.path / MANIFEST)
        if self._same_version_registered(artifact.version, manifest_sha):
            return
        experiment_id = self._experiment_id()
        created_ms = _epoch_ms(manifest.get("created_at"))
        train_ms = int(float(manifest.get("train_seconds") or 0) * 1000)
        run_tags = {
            "mlflow.runName": f"{self.name} {artifact.version}",
            "mlflow.user": actor,
            "mlflow.source.name": "finfleet",
            "mlflow.note.content": _note(artifact),
            "finfleet.name": self.name, VERSION_TAG: artifact.version,
            MANIFEST_SHA_TAG: manifest_sha, "finfleet.actor": actor, "finfleet.reason": reason,
            "finfleet.data": str(manifest.get("data", "")),
            "finfleet.data_sha256": str(manifest.get("data_sha256", "")),
            "finfleet.libraries": json.dumps(manifest.get("libraries", {}), sort_keys=True),
        }
        run = self._api("POST", "runs/create", {
            "experiment_id": experiment_id, "run_name": run_tags["mlflow.runName"],
            "start_time": created_ms - train_ms,
            "tags": _kv({k: v[:RUN_TAG_LIMIT] for k, v in run_tags.items()})})["run"]
        run_id = run["info"]["run_id"]
        self._log_batches(run_id, manifest, created_ms)
        root = _proxied_path(run["info"]["artifact_uri"], artifact.version)
        for path in sorted(p for p in artifact.path.rglob("*") if p.is_file()):
            relative = path.relative_to(artifact.path).as_posix()
            self._upload(path, f"{root}/{MODEL_FOLDER}/{_quote_path(relative)}")
        if (artifact.path / REPORT).is_file():  # also at the top, where the run's page shows it
            self._upload(artifact.path / REPORT, f"{root}/{REPORT}")
        self._api("POST", "runs/update",
                  {"run_id": run_id, "status": "FINISHED", "end_time": created_ms})
        with self._locked(actor):
            if artifact.version in self._by_version():  # another writer registered it meanwhile
                self._api("POST", "runs/delete", {"run_id": run_id})
                self._same_version_registered(artifact.version, manifest_sha)
                return
            self._ensure_registered_model()
            created = self._api("POST", "model-versions/create", {
                "name": self.name, "source": f"{run['info']['artifact_uri']}/{MODEL_FOLDER}",
                "run_id": run_id,
                "description": f"finfleet {self.name} {artifact.version}: {reason}"[:5000],
                "tags": _kv({VERSION_TAG: artifact.version, MANIFEST_SHA_TAG: manifest_sha,
                             "finfleet.data_sha256": str(manifest.get("data_sha256", "")),
                             "finfleet.actor": actor})})["model_version"]
        self._known[str(created["version"])] = created
        self._api("POST", "runs/set-tag", {"run_id": run_id, "key": "finfleet.mlflow_version",
                                           "value": f"{self.name} v{created['version']}"})

    def _same_version_registered(self, version: str, manifest_sha: str) -> bool:
        """Whether MLflow has this version already; a different artifact under the same version
        (two trainers in the same second) is an error, not a silent no-op."""
        existing = self._by_version().get(version)
        if existing is None:
            return False
        theirs = _tags(existing).get(MANIFEST_SHA_TAG)
        if theirs and theirs != manifest_sha:
            raise RegistryError(
                f"'{self.name}' version {version} is already in MLflow (MLflow version "
                f"{existing['version']}) with another manifest ({theirs[:12]}…, this one "
                f"{manifest_sha[:12]}…): save this run under a new version")
        return True

    # ---- the state in MLflow ----------------------------------------------------------------

    def _state(self) -> tuple[dict[str, str], bool, int]:
        """(alias → our version, whether the model has any alias at all, seq). An alias on a
        version finfleet did not register (set by hand in MLflow) is left out, but still counts
        as an alias: the newest-version fallback is only for a model nobody has chosen for."""
        for attempt in range(SETTLE_READS):
            try:
                model = self._registered_model()
            except MlflowApiError as exc:
                if exc.code == "RESOURCE_DOES_NOT_EXIST":
                    return {}, False, 0
                raise
            raw = {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
            entries = _history_entries(model)
            if _settled(raw, entries):
                break
            if attempt < SETTLE_READS - 1:  # read in the middle of a change: read again
                time.sleep(0.05)
        current = {}
        for alias, number in raw.items():
            ours = _tags(self._model_version(number)).get(VERSION_TAG)
            if ours:
                current[alias] = ours
            else:
                log.warning("alias %s of %s is on MLflow version %s, which finfleet did not "
                            "register; ignoring it", alias, self.name, number)
        return current, bool(raw), entries[-1][0] if entries else 0

    def _registered_model(self) -> dict[str, Any]:
        model = self._api("GET", "registered-models/get", query={"name": self.name})[
            "registered_model"]
        created = model.get("creation_timestamp")
        if self._model_created is not None and created != self._model_created:
            self._known.clear()  # deleted and made again: MLflow's numbers start over
        self._model_created = created
        return model

    def _model_version(self, number: str) -> dict[str, Any]:
        if number not in self._known:
            self._known[number] = self._api("GET", "model-versions/get", query={
                "name": self.name, "version": number})["model_version"]
        return self._known[number]

    def _all_model_versions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token = None
        quoted = self.name.replace("'", "\\'")
        while True:
            query = {"filter": f"name='{quoted}'", "max_results": "1000"}
            if token:
                query["page_token"] = token
            page = self._api("GET", "model-versions/search", query=query)
            found.extend(page.get("model_versions", []))
            token = page.get("next_page_token")
            if not token:
                break
        for model_version in found:
            self._known[str(model_version["version"])] = model_version
        return found

    def _by_version(self) -> dict[str, dict[str, Any]]:
        """Our version → its MLflow model version (the first one, if registered twice)."""
        out: dict[str, dict[str, Any]] = {}
        for model_version in sorted(self._all_model_versions(), key=lambda m: int(m["version"])):
            ours = _tags(model_version).get(VERSION_TAG)
            if ours and ours not in out:
                out[ours] = model_version
        return out

    def _ours_by_number(self) -> dict[str, str]:
        return {number: _tags(mv)[VERSION_TAG] for number, mv in self._known.items()
                if VERSION_TAG in _tags(mv)}

    def _model_version_of(self, version: str) -> dict[str, Any]:
        by_version = self._by_version()
        if version not in by_version:
            available = ", ".join(sorted(by_version)) or "none"
            raise RegistryError(f"'{self.name}' has no version {version!r} in MLflow "
                                f"({self.uri}); available: {available}")
        return by_version[version]

    def _ensure_registered_model(self) -> None:
        with contextlib.suppress(_AlreadyExists):
            self._create_model(self.name, description=(
                f"finfleet's '{self.name}' model. Versions carry the tag {VERSION_TAG} (finfleet's "
                f"version); the aliases are finfleet's; every alias move is a tag "
                f"{HISTORY_PREFIX}NNNNNN (seq, actor, reason, gate)."))

    def _experiment_id(self) -> str:
        try:
            return self._api("GET", "experiments/get-by-name",
                             query={"experiment_name": self.experiment})["experiment"][
                "experiment_id"]
        except MlflowApiError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            return self._api("POST", "experiments/create", {
                "name": self.experiment,
                "tags": _kv({"mlflow.note.content": f"finfleet training runs of '{self.name}'"}),
            })["experiment_id"]
        except MlflowApiError as exc:  # created by another trainer meanwhile
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise
            return self._api("GET", "experiments/get-by-name",
                             query={"experiment_name": self.experiment})["experiment"][
                "experiment_id"]

    def _log_batches(self, run_id: str, manifest: dict[str, Any], at_ms: int) -> None:
        params = [{"key": _key(k), "value": _param_value(v)}
                  for k, v in flatten(manifest.get("parameters") or {}).items()]
        numbers = {**flatten(manifest.get("metrics") or {}),
                   "train_seconds": manifest.get("train_seconds")}
        metrics = [{"key": _key(k), "value": float(v), "timestamp": at_ms, "step": 0}
                   for k, v in numbers.items() if _is_number(v)]
        while params or metrics:
            batch = {"run_id": run_id, "params": params[:BATCH_PARAMS],
                     "metrics": metrics[:BATCH_METRICS - len(params[:BATCH_PARAMS])]}
            params = params[len(batch["params"]):]
            metrics = metrics[len(batch["metrics"]):]
            self._api("POST", "runs/log-batch", batch)

    # ---- the writers' lock ------------------------------------------------------------------

    @contextmanager
    def _locked(self, actor: str) -> Iterator[None]:
        lock = f"{self.name}{LOCK_SUFFIX}"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.lock_wait_s
        delay = 0.01
        while True:
            try:
                self._create_model(lock, description=(
                    f"finfleet's writers' lock for '{self.name}', held while an alias moves; "
                    f"deleted when the change is done (see finfleet.lock.expires)"),
                    tags={"finfleet.lock.owner": token, "finfleet.lock.actor": actor,
                          "finfleet.lock.expires": f"{time.time() + self.lock_ttl_s:.3f}"})
                break
            except _AlreadyExists:
                pass
            except MlflowApiError as exc:
                # MLflow answers a create that collided with a lock deleted meanwhile with
                # RESOURCE_DOES_NOT_EXIST (it looks the winner up after the failed insert), and
                # SQLite under contention with a 5xx: both mean "try again".
                if exc.code != "RESOURCE_DOES_NOT_EXIST" and exc.status < 500:
                    raise
            holder = self._lock_tags(lock)
            if holder is not None and float(holder["finfleet.lock.expires"]) < time.time():
                log.warning("breaking the expired MLflow lock %s held by %s", lock,
                            holder.get("finfleet.lock.actor", "?"))
                self._delete_model(lock)
                continue
            if time.monotonic() > deadline:
                raise RegistryError(
                    f"the registry of '{self.name}' is locked by "
                    f"{(holder or {}).get('finfleet.lock.actor', '?')} (registered model {lock!r} "
                    f"in {self.uri}); waited {self.lock_wait_s:.0f}s")
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.25)
        try:
            yield
        finally:
            holder = self._lock_tags(lock)
            if holder is not None and holder.get("finfleet.lock.owner") == token:
                self._delete_model(lock)

    def _lock_tags(self, lock: str) -> dict[str, str] | None:
        """The lock's tags, None when nobody holds it. A lock read while it is being created or
        deleted can lack its tags: its expiry is then the server's creation time + the TTL."""
        try:
            model = self._api("GET", "registered-models/get", query={"name": lock})[
                "registered_model"]
        except MlflowApiError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        tags = _tags(model)
        if "finfleet.lock.expires" not in tags:
            created = float(model.get("creation_timestamp") or time.time() * 1000) / 1000
            tags["finfleet.lock.expires"] = f"{created + self.lock_ttl_s:.3f}"
        return tags

    def _create_model(self, name: str, *, description: str,
                      tags: dict[str, str] | None = None) -> None:
        try:
            self._api("POST", "registered-models/create",
                      {"name": name, "description": description, "tags": _kv(tags or {})})
        except MlflowApiError as exc:
            if exc.code == "RESOURCE_ALREADY_EXISTS":
                raise _AlreadyExists(str(exc), exc.code, exc.status) from exc
            raise

    def _delete_model(self, name: str) -> None:
        try:
            self._api("DELETE", "registered-models/delete", {"name": name})
        except MlflowApiError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST":
                raise

    # ---- HTTP -------------------------------------------------------------------------------

    def _api(self, method: str, endpoint: str, body: dict[str, Any] | None = None, *,
             query: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.uri}/api/2.0/mlflow/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            **self._headers, "Content-Type": "application/json", "Accept": "application/json"})
        with self._open(request) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else {}

    def _download(self, path: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        request = urllib.request.Request(f"{self.uri}/api/2.0/mlflow-artifacts/artifacts/{path}",
                                         headers=self._headers)
        with self._open(request) as resp, dest.open("wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)

    def _upload(self, source: Path, path: str) -> None:
        with source.open("rb") as fh:
            request = urllib.request.Request(
                f"{self.uri}/api/2.0/mlflow-artifacts/artifacts/{path}", data=fh, method="PUT",
                headers={**self._headers, "Content-Type": "application/octet-stream",
                         "Content-Length": str(source.stat().st_size)})
            with self._open(request) as resp:
                resp.read()

    @contextmanager
    def _open(self, request: urllib.request.Request) -> Iterator[Any]:
        try:
            resp = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = {}
            code = str(answer.get("error_code", ""))
            message = answer.get("message") or raw[:300].decode(errors="replace")
            where = request.full_url.split("?")[0].removeprefix(self.uri)
            raise MlflowApiError(f"MLflow {request.get_method()} {where}: HTTP {exc.code} "
                                 f"{code} {message}".replace("  ", " "), code, exc.code) from exc
        except OSError as exc:
            raise RegistryError(f"MLflow at {self.uri} did not answer "
                                f"{request.get_method()} {request.full_url}: {exc}") from exc
        with resp:
            yield resp

    # ---- the cache --------------------------------------------------------------------------

    def _verified(self, version: str, manifest_sha: str | None) -> Artifact:
        path = self.store.model_root / version / MANIFEST
        if manifest_sha and sha256_file(path) != manifest_sha:
            raise ArtifactError(f"sha256 mismatch for {MANIFEST} of {self.name}/{version}: not "
                                f"the manifest registered in MLflow ({manifest_sha[:12]}…)")
        return self.store.load(version)

    def _discard(self, target: Path) -> None:
        aside = Path(tempfile.mkdtemp(prefix=f".{self.name}-stale-", dir=self.cache_dir))
        with contextlib.suppress(FileNotFoundError):
            os.rename(target, aside / "version")
        shutil.rmtree(aside, ignore_errors=True)


class _AlreadyExists(MlflowApiError):
    pass


def _history_entries(model: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    entries = []
    for key, value in _tags(model).items():
        if key.startswith(HISTORY_PREFIX) and key[len(HISTORY_PREFIX):].isdigit():
            entries.append((int(key[len(HISTORY_PREFIX):]), json.loads(value)))
    return sorted(entries, key=lambda entry: entry[0])


def _settled(raw_aliases: dict[str, str], entries: list[tuple[int, dict[str, Any]]]) -> bool:
    """Whether every alias is where the history's last change of it put it. Not so during a
    change (MLflow reads a model's aliases and its tags in separate queries, so one read can
    fall between a writer's alias move and its history entry) or after a move made by hand in
    MLflow, which has no history entry; a read that stays unsettled is taken as it is."""
    last: dict[str, str | None] = {}
    for _, entry in entries:
        if "mlflow_to" in entry:
            last[entry["alias"]] = entry["mlflow_to"]
    return all(raw_aliases.get(alias) == number for alias, number in last.items())


def _history_value(change: Change, from_number: str | None, to_number: str | None) -> str:
    """The change as JSON within a registry tag's limit: a gate too big to fit keeps only its
    scalar fields (marked `trimmed`), then only whether it passed; a long reason is cut."""
    raw = {**change.to_dict(), "mlflow_from": from_number, "mlflow_to": to_number}
    raw["reason"] = raw["reason"][:1000]
    gate = raw.get("gate")
    candidates = [gate]
    if isinstance(gate, dict):
        scalars = {k: v for k, v in gate.items()
                   if isinstance(v, bool | int | float | type(None))
                   or (isinstance(v, str) and len(v) <= 200)}
        candidates += [{**scalars, "trimmed": True},
                       {"passed": gate.get("passed"), "trimmed": True}]
    for candidate in candidates:
        body = json.dumps({**raw, "gate": candidate}, sort_keys=True, default=str)
        if len(body) <= REGISTRY_TAG_LIMIT:
            return body
    return json.dumps({**raw, "gate": {"trimmed": True}}, sort_keys=True, default=str)


def _proxied_path(uri: str, version: str) -> str:
    """The path under `/api/2.0/mlflow-artifacts/artifacts/` of an `mlflow-artifacts:` URI."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme != "mlflow-artifacts":
        raise RegistryError(
            f"version {version}'s files are at {uri!r}, which finfleet cannot reach through the "
            "MLflow server: start the server with `--serve-artifacts` (MLflow 3's default) so "
            "artifacts are mlflow-artifacts: URIs")
    return _quote_path(parsed.path.strip("/"))


def _quote_path(path: str) -> str:
    return "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))


def _tags(entity: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag.get("value", "") for tag in entity.get("tags", [])}


def _kv(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in values.items()]




def _key(key: str) -> str:
    return _BAD_KEY.sub("_", str(key)).strip("/")[:KEY_LIMIT] or "_"


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:PARAM_LIMIT]


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _epoch_ms(iso: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except ValueError:
        return int(time.time() * 1000)


def _note(artifact: Artifact) -> str:
    """The run's description (Markdown on its MLflow page): the report, cut to fit a run tag."""
    report = artifact.path / REPORT
    text = report.read_text(encoding="utf-8") if report.is_file() else (
        f"finfleet {artifact.name} {artifact.version}")
    if len(text) > RUN_TAG_LIMIT:
        text = text[:RUN_TAG_LIMIT - 60] + f"\n\n… (the whole report is the run's {REPORT})"
    return text


def _auth_headers(token: str | None, username: str | None, password: str | None,
                  ) -> dict[str, str]:
    if token:
        return {"Authorization": f"Bearer {token}"}
    if username and password:
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    return {}

