"""The model registry: named aliases (`production`, `candidate`, any other) pointing at versions,
and an append-only history of every move.

The file registry (the embedded default) keeps both beside the artifacts:
`models/<name>/aliases.json` (the current aliases and the sequence number of the last change)
and `models/<name>/history.jsonl` (one line per change). A writer holds an exclusive `flock` on
`models/<name>/.registry.lock` for the read-modify-write, writes aliases.json to a temporary
file, fsyncs it and renames it into place, then appends and fsyncs the history line, so two
writers at once (two `promote` commands, a CronJob and a person) never lose a change and a
reader never sees a half-written file.

Every change has a `seq`, one more than the last: the gateway orders versions by it (a rollback
is newer than the promotion it undoes, though its version is older).
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kit.artifacts import Artifact, ArtifactError, ArtifactStore

PRODUCTION = "production"
CANDIDATE = "candidate"
ALIASES_FILE = "aliases.json"
HISTORY_FILE = "history.jsonl"
LOCK_FILE = ".registry.lock"


class RegistryError(ArtifactError):
    """A registry request that cannot be met: an unknown version or alias, nothing to roll
    back to. Its message says what exists."""


@dataclass(frozen=True)
class Change:
    """One line of the history: `alias` moved from `from_version` to `to_version`."""

    seq: int
    alias: str
    from_version: str | None
    to_version: str | None
    at: str
    actor: str
    reason: str
    gate: dict[str, Any] | None = None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["from"] = out.pop("from_version")
        out["to"] = out.pop("to_version")
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Change:
        return cls(seq=int(raw["seq"]), alias=raw["alias"], from_version=raw.get("from"),
                   to_version=raw.get("to"), at=raw["at"], actor=raw.get("actor", "?"),
                   reason=raw.get("reason", ""), gate=raw.get("gate"),
                   forced=bool(raw.get("forced", False)))


@dataclass(frozen=True)
class Resolved:
    """What a service should serve for an alias: the version, the change that put it there
    (`seq`, 0 when no alias exists yet) and whether it is the newest-version fallback."""

    alias: str
    version: str
    seq: int
    fallback: bool = False


@dataclass
class Aliases:
    aliases: dict[str, str] = field(default_factory=dict)
    seq: int = 0


class Registry(Protocol):
    """What a service, the trainer and the release commands need of a registry backend."""

    name: str

    def versions(self) -> list[str]: ...

    def aliases(self) -> Aliases: ...

    def history(self) -> list[Change]: ...

    def set_alias(self, alias: str, version: str | None, *, actor: str, reason: str,
                  gate: dict[str, Any] | None = None, forced: bool = False) -> Change: ...

    def fetch(self, version: str) -> Artifact: ...

    def resolve(self, alias: str = PRODUCTION) -> Resolved | None: ...


class FileRegistry:
    """The registry of one model under `root/<name>/`, beside its artifacts."""

    def __init__(self, root: Path | str, name: str) -> None:
        self.name = name
        self.store = ArtifactStore(root, name)
        self.folder = self.store.model_root

    def versions(self) -> list[str]:
        return self.store.versions()

    def aliases(self) -> Aliases:
        path = self.folder / ALIASES_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return Aliases()
        except json.JSONDecodeError as exc:  # never written by us: renames are atomic
            raise RegistryError(f"{path} is not valid JSON: {exc}") from exc
        return Aliases(dict(raw.get("aliases", {})), int(raw.get("seq", 0)))

    def history(self) -> list[Change]:
        path = self.folder / HISTORY_FILE
        if not path.is_file():
            return []
        lines = path.read_text().splitlines()
        return [Change.from_dict(json.loads(line)) for line in lines if line.strip()]

    def resolve(self, alias: str = PRODUCTION) -> Resolved | None:
        """The alias's version, or (for `production` with no aliases set at all) the newest
        version, marked as a fallback; None when there is nothing to serve."""
        current = self.aliases()
        if alias in current.aliases:
            return Resolved(alias, current.aliases[alias], current.seq)
        if alias == PRODUCTION and not current.aliases:
            available = self.versions()
            if available:
                return Resolved(alias, available[-1], 0, fallback=True)
        return None

    def fetch(self, version: str) -> Artifact:
        """The version's files, each checked against the manifest's sha256."""
        return self.store.load(version)

    def set_alias(self, alias: str, version: str | None, *, actor: str, reason: str,
                  gate: dict[str, Any] | None = None, forced: bool = False) -> Change:
        """Point `alias` at `version` (None removes it) and append the change to the history."""
        _check_alias(alias)
        if version is not None and version not in self.versions():
            raise RegistryError(f"'{self.name}' has no version {version!r}; available: "
                                f"{', '.join(self.versions()) or 'none'}")
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            current = self.aliases()
            change = Change(
                seq=current.seq + 1, alias=alias, from_version=current.aliases.get(alias),
                to_version=version, at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                actor=actor, reason=reason, gate=gate, forced=forced)
            if version is None:
                current.aliases.pop(alias, None)
            else:
                current.aliases[alias] = version
            self._write_aliases(Aliases(current.aliases, change.seq))
            self._append_history(change)
        return change

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.folder / LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_aliases(self, aliases: Aliases) -> None:
        body = json.dumps({"name": self.name, "aliases": aliases.aliases, "seq": aliases.seq},
                          indent=2, sort_keys=True)
        fd, temp = tempfile.mkstemp(prefix=".aliases-", dir=self.folder)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(body + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, self.folder / ALIASES_FILE)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.folder)

    def _append_history(self, change: Change) -> None:
        with open(self.folder / HISTORY_FILE, "a") as fh:
            fh.write(json.dumps(change.to_dict(), sort_keys=True, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def previous_production(registry: Registry) -> str | None:
    """The version `production` pointed at before its current one: what `rollback` restores."""
    current = registry.aliases().aliases.get(PRODUCTION)
    for change in reversed(registry.history()):
        if change.alias == PRODUCTION and change.to_version == current:
            return change.from_version
    return None


def _check_alias(alias: str) -> None:
    if not alias or not alias.replace("-", "").replace("_", "").isalnum() or alias.isdigit():
        raise RegistryError(f"alias {alias!r} must be letters, digits, '-' or '_', "
                            "and not only digits (a version is not an alias)")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_registry(settings: Any, name: str) -> Registry:
    """The registry a process is configured for: MLflow when `mlflow_tracking_uri` is set,
    else the file registry under `model_dir`."""
    uri = getattr(settings, "mlflow_tracking_uri", None)
    if uri:
        from kit.registry_mlflow import MlflowRegistry

        return MlflowRegistry(uri, name, cache_dir=Path(settings.model_dir))
    return FileRegistry(settings.model_dir, name)
