"""The file registry: aliases, the append-only history, two writers at once, rollback, and the
release operations over it (the gate stands in as a function here; kit/tests/test_gate.py and
the services' gate tests run the real one)."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import dataclass
from typing import Any

import pytest

from kit.artifacts import ArtifactStore
from kit.registry import (
    CANDIDATE,
    PRODUCTION,
    FileRegistry,
    RegistryError,
    previous_production,
)
from kit.releases import (
    GateRefused,
    ReleaseRefused,
    describe,
    promote,
    register_candidate,
    rollback,
    set_alias,
)


def _version(root, version: str, name: str = "toy") -> None:
    staging = root / f"staging-{version}"
    staging.mkdir()
    (staging / "weights.bin").write_bytes(version.encode())
    ArtifactStore(root, name).save(staging, {"metrics": {"auc": 0.8}}, version=version)


@pytest.fixture
def registry(tmp_path) -> FileRegistry:
    for version in ("20260101-000000", "20260201-000000", "20260301-000000"):
        _version(tmp_path, version)
    return FileRegistry(tmp_path, "toy")


def test_with_no_alias_production_is_the_newest_version_marked_as_a_fallback(registry):
    resolved = registry.resolve(PRODUCTION)
    assert resolved.version == "20260301-000000" and resolved.fallback and resolved.seq == 0
    assert registry.resolve(CANDIDATE) is None


def test_aliases_move_and_every_move_is_in_the_history(registry, tmp_path):
    first = registry.set_alias(PRODUCTION, "20260101-000000", actor="t", reason="first")
    second = registry.set_alias(PRODUCTION, "20260201-000000", actor="t", reason="better",
                                gate={"passed": True})
    registry.set_alias("staging-eu", "20260301-000000", actor="t", reason="any name")
    assert (first.seq, second.seq) == (1, 2)
    assert registry.resolve(PRODUCTION).version == "20260201-000000"
    assert not registry.resolve(PRODUCTION).fallback
    assert registry.aliases().aliases == {PRODUCTION: "20260201-000000",
                                          "staging-eu": "20260301-000000"}
    history = registry.history()
    assert [(c.seq, c.from_version, c.to_version) for c in history] == [
        (1, None, "20260101-000000"), (2, "20260101-000000", "20260201-000000"),
        (3, None, "20260301-000000")]
    assert history[1].gate == {"passed": True}
    lines = (tmp_path / "toy" / "history.jsonl").read_text().splitlines()
    assert json.loads(lines[1])["from"] == "20260101-000000"
    removed = registry.set_alias("staging-eu", None, actor="t", reason="done")
    assert removed.to_version is None and "staging-eu" not in registry.aliases().aliases


def test_unknown_versions_and_bad_alias_names_are_refused(registry):
    with pytest.raises(RegistryError, match=r"no version '1999'.*20260101-000000"):
        registry.set_alias(PRODUCTION, "1999", actor="t", reason="x")
    for bad in ("", "12", "a/b", "prod uction"):
        with pytest.raises(RegistryError, match="alias"):
            registry.set_alias(bad, "20260101-000000", actor="t", reason="x")
    assert registry.history() == []


def _hammer(root: str, worker: int, moves: int) -> None:
    registry = FileRegistry(root, "toy")
    versions = registry.versions()
    for i in range(moves):
        registry.set_alias(f"w{worker}", versions[i % len(versions)], actor=f"w{worker}",
                           reason=str(i))


def test_two_writers_at_once_lose_no_change(registry, tmp_path):
    moves = 60
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(tmp_path), w, moves)) for w in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    history = registry.history()
    assert [c.seq for c in history] == list(range(1, 2 * moves + 1))
    assert registry.aliases().seq == 2 * moves
    assert set(registry.aliases().aliases) == {"w1", "w2"}
    for worker in ("w1", "w2"):
        assert [c.reason for c in history if c.actor == worker] == [str(i) for i in range(moves)]


def test_rollback_restores_the_previous_production(registry):
    assert previous_production(registry) is None
    with pytest.raises(ReleaseRefused, match="no earlier production"):
        rollback(registry)
    registry.set_alias(PRODUCTION, "20260101-000000", actor="t", reason="a")
    registry.set_alias(PRODUCTION, "20260201-000000", actor="t", reason="b")
    change = rollback(registry, reason="b is broken", actor="oncall")
    assert change.to_version == "20260101-000000" and change.reason == "b is broken"
    assert registry.resolve().version == "20260101-000000"
    assert registry.resolve().seq == change.seq == 3


@dataclass
class FakeGate:
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed}

    def table(self) -> str:
        return "criterion  verdict\nauc        " + ("pass" if self.passed else "FAIL")


def _gate(passed: bool):
    return lambda name, candidate, production: FakeGate(passed)


def test_promote_moves_production_only_when_the_gate_passes(registry):
    registry.set_alias(PRODUCTION, "20260101-000000", actor="t", reason="first")
    set_alias(registry, CANDIDATE, "20260201-000000", reason="retrained")
    with pytest.raises(GateRefused) as refused:
        promote(registry, evaluate=_gate(False))
    assert "FAIL" in refused.value.extensions["table"]
    assert registry.resolve().version == "20260101-000000"
    done = promote(registry, evaluate=_gate(True), actor="ci")
    assert done.change.to_version == "20260201-000000" and done.change.gate == {"passed": True}
    assert registry.resolve().version == "20260201-000000"
    with pytest.raises(ReleaseRefused, match="already production"):
        promote(registry, evaluate=_gate(True))


def test_force_needs_a_reason_and_is_recorded(registry):
    registry.set_alias(PRODUCTION, "20260101-000000", actor="t", reason="a")
    with pytest.raises(ReleaseRefused, match="--reason"):
        promote(registry, "20260301-000000", force=True, evaluate=_gate(False))
    done = promote(registry, "20260301-000000", force=True, reason="hotfix for incident 7",
                   evaluate=_gate(False))
    last = registry.history()[-1]
    assert done.forced and last.forced and last.reason == "hotfix for incident 7"
    assert last.gate == {"passed": False} and registry.resolve().version == "20260301-000000"


def test_a_first_candidate_never_becomes_production_over_older_versions(registry):
    """Versions trained before the registry existed: the newest of them stays production."""
    _version(registry.store.root, "20260401-000000")
    register_candidate(registry, registry.fetch("20260401-000000"), actor="train")
    assert registry.aliases().aliases == {PRODUCTION: "20260301-000000",
                                          CANDIDATE: "20260401-000000"}


def test_production_moves_only_through_promote_or_rollback(registry):
    with pytest.raises(ReleaseRefused, match="promote"):
        set_alias(registry, PRODUCTION, "20260101-000000")


def test_describe_lists_versions_aliases_metrics_and_history(registry):
    registry.set_alias(PRODUCTION, "20260101-000000", actor="t", reason="a")
    out = describe(registry)
    assert [v["version"] for v in out["versions"]] == registry.versions()
    assert out["versions"][0]["aliases"] == [PRODUCTION]
    assert out["versions"][0]["metrics"] == {"auc": 0.8}
    assert out["history"][0]["to"] == "20260101-000000"
