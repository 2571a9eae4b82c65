"""Release operations on a model's registry — list, promote through the gate, roll back, set an
alias — shared by the command line (`python -m kit.releases`) and the services' admin routes,
so both do exactly the same thing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.artifacts import Artifact, ArtifactError
from kit.errors import ProblemError
from kit.registry import (
    CANDIDATE,
    PRODUCTION,
    Change,
    Registry,
    RegistryError,
    open_registry,
    previous_production,
)

Evaluate = Callable[[str, Artifact, Artifact | None], Any]


class ReleaseRefused(ProblemError):
    """A release request that cannot proceed as asked (nothing to promote, a reason missing)."""

    status = 409
    title = "Release refused"
    slug = "release-refused"


class GateRefused(ProblemError):
    """The gate found the candidate worse: nothing changed; the gate's table says why."""

    status = 409
    title = "Promotion refused by the gate"
    slug = "gate-refused"


@dataclass
class Promotion:
    version: str
    previous: str | None
    passed: bool
    forced: bool
    change: Change | None
    gate: Any  # kit.gate.GateResult

    def to_dict(self) -> dict[str, Any]:
        return {"promoted": self.change is not None, "version": self.version,
                "previous": self.previous, "gate_passed": self.passed, "forced": self.forced,
                "change": self.change.to_dict() if self.change else None,
                "gate": self.gate.to_dict(), "table": self.gate.table()}


def _default_evaluate(name: str, candidate: Artifact, production: Artifact | None) -> Any:
    from kit.gate import evaluate_release

    return evaluate_release(name, candidate, production)


def promote(registry: Registry, version: str | None = None, *, force: bool = False,
            reason: str = "", actor: str = "cli",
            evaluate: Evaluate = _default_evaluate) -> Promotion:
    """Score `version` (default: the candidate) against production with the gate; move
    production when it passes, or when forced (with a reason, recorded). Raises GateRefused
    (nothing changed) when it fails unforced."""
    aliases = registry.aliases().aliases
    version = version or aliases.get(CANDIDATE)
    if version is None:
        raise ReleaseRefused(f"'{registry.name}' has no candidate; name a version "
                             f"(available: {', '.join(registry.versions()) or 'none'})")
    if force and not reason.strip():
        raise ReleaseRefused("--force needs --reason: a forced promotion is recorded with why")
    current = aliases.get(PRODUCTION)
    if current == version:
        raise ReleaseRefused(f"{registry.name} {version} is already production")
    try:
        candidate = registry.fetch(version)
        production = registry.fetch(current) if current else None
    except ArtifactError as exc:
        raise ReleaseRefused(str(exc)) from exc
    gate = evaluate(registry.name, candidate, production)
    promotion = Promotion(version, current, bool(gate.passed), force and not gate.passed,
                          None, gate)
    if not gate.passed and not force:
        raise GateRefused(
            f"{registry.name} {version} did not pass the gate against {current}; "
            "production is unchanged",
            extensions={"gate": gate.to_dict(), "table": gate.table()})
    promotion.change = registry.set_alias(
        PRODUCTION, version, actor=actor,
        reason=reason.strip() or ("gate passed" if gate.passed else ""),
        gate=gate.to_dict(), forced=promotion.forced)
    return promotion


def rollback(registry: Registry, *, reason: str = "", actor: str = "cli") -> Change:
    """Production back to the version it pointed at before (no gate: it served before)."""
    target = previous_production(registry)
    if target is None:
        raise ReleaseRefused(f"'{registry.name}' has no earlier production version to roll "
                             "back to")
    return registry.set_alias(PRODUCTION, target, actor=actor,
                              reason=reason.strip() or "rollback")


def set_alias(registry: Registry, alias: str, version: str | None, *, reason: str = "",
              actor: str = "cli") -> Change:
    """Any alias but production, which moves only through promote or rollback."""
    if alias == PRODUCTION:
        raise ReleaseRefused("production moves through promote (the gate) or rollback")
    return registry.set_alias(alias, version, actor=actor, reason=reason.strip() or "set")


def register_candidate(registry: Registry, artifact: Artifact, *, actor: str) -> list[Change]:
    """A freshly trained version: registered (where the backend keeps copies) and made the
    candidate. A model with no production alias yet gets one first: the version it was
    serving (the newest before this one), or this one when it is the model's first — so a
    new version never becomes production without the gate."""
    register = getattr(registry, "register", None)
    if register is not None:
        register(artifact, actor=actor, reason="trained")
    changes = []
    if PRODUCTION not in registry.aliases().aliases:
        earlier = [v for v in registry.versions() if v != artifact.version]
        changes.append(registry.set_alias(
            PRODUCTION, earlier[-1] if earlier else artifact.version, actor=actor,
            reason="the version served until now (the newest; no alias yet)" if earlier
            else "first version of the model"))
    changes.append(registry.set_alias(CANDIDATE, artifact.version, actor=actor,
                                      reason="trained"))
    return changes


def describe(registry: Registry) -> dict[str, Any]:
    """Versions (with their aliases, training time and holdout metrics), aliases, history."""
    aliases = registry.aliases()
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.aliases.items():
        by_version.setdefault(version, []).append(alias)
    versions = []
    for version in registry.versions():
        manifest = _manifest(registry, version)
        versions.append({"version": version, "aliases": sorted(by_version.get(version, [])),
                         "created_at": manifest.get("created_at"),
                         "data": manifest.get("data"),
                         "metrics": manifest.get("metrics", {})})
    return {"name": registry.name, "aliases": aliases.aliases, "seq": aliases.seq,
            "versions": versions, "history": [c.to_dict() for c in registry.history()]}


def _manifest(registry: Registry, version: str) -> dict[str, Any]:
    reader = getattr(registry, "manifest", None)
    if reader is not None:
        return reader(version)
    try:
        return registry.fetch(version).manifest
    except ArtifactError as exc:
        return {"error": str(exc)}


def render(description: dict[str, Any], history: int = 10) -> str:
    """`models list NAME` for a terminal: versions with aliases and headline metrics, then
    the most recent changes."""
    lines = [f"{description['name']}: " + (", ".join(
        f"{a} → {v}" for a, v in sorted(description["aliases"].items())) or "no aliases yet")]
    lines.append("")
    lines.append(f"{'version':<17} {'aliases':<22} {'trained':<26} metrics")
    for row in description["versions"]:
        lines.append(f"{row['version']:<17} {','.join(row['aliases']) or '-':<22} "
                     f"{row['created_at'] or '-':<26} {_headline(row['metrics'])}")
    changes = description["history"][-history:]
    if changes:
        lines += ["", "history (newest last):"]
        for c in changes:
            forced = " FORCED" if c.get("forced") else ""
            gate = c.get("gate") or {}
            verdict = "" if not gate else (" gate passed" if gate.get("passed") else
                                           " gate failed")
            lines.append(f"  #{c['seq']:<3} {c['at']}  {c['alias']}: {c['from'] or '-'} → "
                         f"{c['to'] or '-'}  by {c['actor']}: {c['reason']}{verdict}{forced}")
    return "\n".join(lines)


def _headline(metrics: dict[str, Any], limit: int = 4) -> str:
    flat = [(k, v) for k, v in metrics.items() if isinstance(v, int | float)
            and not isinstance(v, bool) and not k.startswith("n_")]
    return ", ".join(f"{k}={v:.4g}" for k, v in flat[:limit]) or "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kit.releases",
        description="A model's versions and aliases: list, promote through the gate, roll back.")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="the file registry's folder (default: models/, or the service's "
                             "<NAME>_MODEL_DIR); MLFLOW_TRACKING_URI selects MLflow instead")
    parser.add_argument("--actor", default="cli", help="who or what is recorded (default: cli)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="versions, aliases, metrics and history")
    listing.add_argument("name")
    prom = sub.add_parser("promote", help="gate the candidate (or VERSION) and promote it")
    prom.add_argument("name")
    prom.add_argument("version", nargs="?")
    prom.add_argument("--force", action="store_true",
                      help="promote even when the gate fails (needs --reason)")
    prom.add_argument("--reason", default="")
    back = sub.add_parser("rollback", help="production back to its previous version")
    back.add_argument("name")
    back.add_argument("--reason", default="")
    alias = sub.add_parser("alias", help="point an alias (not production) at a version")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", nargs="?", help="omit to remove the alias")
    alias.add_argument("--reason", default="")
    args = parser.parse_args(argv)
    registry = open_registry(service_settings(args.name, args.model_dir), args.name)
    try:
        out = _run(args, registry)
    except GateRefused as exc:
        print(exc.extensions["table"], file=sys.stderr)
        print(f"\nrefused: {exc.detail}", file=sys.stderr)
        return 1
    except (ReleaseRefused, RegistryError) as exc:
        print(f"error: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2, default=str) if args.json else out["text"])
    return 0


def _run(args: argparse.Namespace, registry: Registry) -> dict[str, Any]:
    if args.command == "list":
        description = describe(registry)
        return {**description, "text": render(description)}
    if args.command == "promote":
        done = promote(registry, args.version, force=args.force, reason=args.reason,
                       actor=args.actor)
        verdict = "passed" if done.passed else "FAILED, promoted by --force"
        return {**done.to_dict(), "text": f"{done.gate.table()}\n\ngate {verdict}: "
                f"{registry.name} production {done.previous or '-'} → {done.version} "
                f"(change #{done.change.seq})"}
    if args.command == "rollback":
        change = rollback(registry, reason=args.reason, actor=args.actor)
    else:
        change = set_alias(registry, args.alias, args.version, reason=args.reason,
                           actor=args.actor)
    return {**change.to_dict(), "text": f"{registry.name} {change.alias}: "
            f"{change.from_version or '-'} → {change.to_version or '-'} (change #{change.seq})"}


def service_settings(name: str, model_dir: Path | None) -> Any:
    """The service's own settings (its env prefix), so a CLI opens the registry it serves."""
    from kit.catalog import load_catalog
    from kit.settings import settings_class

    try:
        load_catalog().service(name)
    except KeyError:
        raise SystemExit(f"error: no model named {name!r} in services.toml") from None
    settings = settings_class(name)()
    if model_dir is not None:
        settings.model_dir = model_dir
    return settings


if __name__ == "__main__":
    sys.exit(main())
