"""`finfleet drift report NAME --since 7d`: a window of the prediction log against the serving
version's reference profile, summarised here and written as an Evidently HTML report.

It runs in the project's venv: it reads the log the model's service writes (the same settings:
`<NAME>_LOG_URL` / `<NAME>_LOG_DIR`, or the flags), takes the window's drift features (the
log's `features` column, which the log's writer fills for a sample of records; for a log written
before it, the model's own `drift_features` on the logged inputs and outputs, where the input
was logged whole: `kit.drift_window.window_features`), loads the version's reference
profile from its artifact and prints `kit.drift.compare`'s verdict. Evidently lives in its own
venv (`make evidently`, `.venv-evidently/`), never the project's or an image's: this module
hands it files — the window's rows and a reference sample drawn from the profile
(kit/profile_sample.py: the artifact keeps no training rows) — and runs kit/drift_html.py
there. Failures are one line on stderr and exit status 1. docs/drift.md, "Drift report".
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.catalog import load_catalog
from kit.drift import DriftReport, compare
from kit.durations import duration_seconds
from kit.predlog import log_directory
from kit.predlog_store import open_log_store
from kit.profile import category, is_number, reference_profile
from kit.profile_sample import SEED, reference_sample
from kit.settings import REPO_ROOT

EVIDENTLY_VENV = REPO_ROOT / ".venv-evidently"
HTML_SCRIPT = Path(__file__).with_name("drift_html.py")


class ReportError(Exception):
    """Why no report could be made: printed as one line, exit status 1."""


# --- the command line ------------------------------------------------------------------------
def parse_time(text: str, now: float | None = None) -> float:
    """Unix seconds for `7d`, `12h`, `30m`, `45s`, `2w` (that long before now) or an ISO date or
    time (`2026-11-24`, `2026-11-24T08:00`, `…Z`, `…+05:30`; without a zone: UTC)."""
    text = text.strip()
    seconds = duration_seconds(text)
    if seconds is not None:
        return (time.time() if now is None else now) - seconds
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (7d, 12h, 30m) nor an ISO date or time "
            "(2026-11-24, 2026-11-24T08:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finfleet drift",
        description="Drift of a model's served traffic against its reference profile.")
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser(
        "report", help="summarise a window of the prediction log and write an Evidently HTML "
                       "report of it")
    report.add_argument("name", help="the model (services.toml)")
    report.add_argument("--since", type=parse_time, default="7d",
                        help="window start: 7d, 12h, 30m (ago) or an ISO date/time (default 7d)")
    report.add_argument("--until", type=parse_time, default=None,
                        help="window end, the same forms (default: now)")
    report.add_argument("--version", default=None,
                        help="the version whose records and profile are compared (default: the "
                             "one the service serves: <NAME>_MODEL_VERSION, else its alias)")
    report.add_argument("--out", type=Path, default=None,
                        help="the HTML file (default: drift-report-NAME-VERSION.html here)")
    report.add_argument("--model-dir", type=Path, default=None,
                        help="the artifacts' folder (default: the service's <NAME>_MODEL_DIR)")
    report.add_argument("--log-url", default=None,
                        help="the log's PostgreSQL (default: the service's <NAME>_LOG_URL)")
    report.add_argument("--log-dir", type=Path, default=None,
                        help="the embedded log's folder (default: the service's <NAME>_LOG_DIR, "
                             "else logs/predictions beside the model folder)")
    report.add_argument("--evidently-venv", type=Path,
                        default=Path(os.environ.get("FINFLEET_EVIDENTLY_VENV") or EVIDENTLY_VENV),
                        help="Evidently's venv (default: .venv-evidently, `make evidently`)")
    report.add_argument("--json", action="store_true",
                        help="print the summary as JSON (kit.drift's report and Evidently's)")
    return parser


# --- the window --------------------------------------------------------------------------------
@dataclass
class Window:
    """The records of one version in [since, until), as feature dicts."""

    name: str
    version: str
    since: float
    until: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    other_versions: dict[str, int] = field(default_factory=dict)
    without_features: int = 0


def serving_version(settings: Any, registry: Any) -> str:
    """What the service serves: its pinned version, else its alias (the newest version while
    the model has no aliases at all)."""
    if settings.model_version:
        return settings.model_version
    resolved = registry.resolve(settings.model_alias)
    if resolved is None:
        raise ReportError(f"{registry.name} has no version to serve under "
                          f"'{settings.model_alias}' (versions: "
                          f"{', '.join(registry.versions()) or 'none'})")
    return resolved.version


def read_window(store: Any, name: str, version: str, since: float, until: float,
                artifact: Any) -> Window:
    """The version's records in the window as drift features: the log's features sample, or
    for a log written before it the model's own hook (`kit.drift_window.window_features`, what the
    retraining job's drift check reads too)."""
    from kit.drift_window import window_features

    window = Window(name, version, since, until)
    records = []
    for record in store.read_predictions(name, since, until):
        if record["version"] == version:
            records.append(record)
        else:
            window.other_versions[record["version"]] = \
                window.other_versions.get(record["version"], 0) + 1
    window.rows = window_features(name, artifact, records) if records else []
    window.without_features = len(records) - len(window.rows)
    return window


# --- the tables Evidently reads ----------------------------------------------------------------
def columns(profile: dict[str, Any], rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The profiled features the window has, by kind (Evidently's column types)."""
    present = {name for row in rows for name, value in row.items() if value is not None}
    out: dict[str, list[str]] = {"numerical": [], "categorical": []}
    for name, ref in sorted(profile["features"].items()):
        if name in present:
            out["numerical" if ref["kind"] == "numeric" else "categorical"].append(name)
    return out


def table(rows: Sequence[dict[str, Any]], kinds: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Rows with only the profiled columns, spelled as the profile spells them (a category as
    its string: `true`, `3`; a number as a float; anything else missing)."""
    numeric, categorical = kinds["numerical"], kinds["categorical"]
    out = []
    for row in rows:
        item: dict[str, Any] = {n: float(row[n]) if is_number(row.get(n)) else None
                                for n in numeric}
        item.update({n: None if row.get(n) is None else category(row[n]) for n in categorical})
        out.append(item)
    return out


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def evidently_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.is_file():
        raise ReportError(f"Evidently is not installed: no {python}; run `make evidently` (its "
                          "own venv, from requirements/evidently.txt)")
    return python


def run_evidently(python: Path, profile: dict[str, Any], window: Window,
                  kinds: dict[str, list[str]], out: Path, banner: str) -> dict[str, Any]:
    """Write the HTML with Evidently (its venv, a subprocess, data as files); Evidently's own
    dataset-drift numbers back."""
    reference = reference_sample(profile)
    with tempfile.TemporaryDirectory(prefix="finfleet-drift-") as tmp:
        folder = Path(tmp)
        write_jsonl(folder / "current.jsonl", table(window.rows, kinds))
        write_jsonl(folder / "reference.jsonl", table(reference, kinds))
        spec = {"current": str(folder / "current.jsonl"),
                "reference": str(folder / "reference.jsonl"), "columns": kinds,
                "out": str(out), "banner": banner, "summary": str(folder / "summary.json")}
        (folder / "spec.json").write_text(json.dumps(spec))
        try:
            done = subprocess.run([str(python), "-I", str(HTML_SCRIPT),
                                   str(folder / "spec.json")],
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired as exc:
            raise ReportError("Evidently did not finish in 600 s") from exc
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ReportError(f"Evidently failed (exit {done.returncode}): {last}")
        return json.loads((folder / "summary.json").read_text())


# --- what is printed -----------------------------------------------------------------------------
def stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe_window(window: Window) -> str:
    line = (f"{window.name} {window.version}: {len(window.rows)} records from "
            f"{stamp(window.since)} to {stamp(window.until)}")
    if window.other_versions:
        others = ", ".join(f"{v}: {n}" for v, n in sorted(window.other_versions.items()))
        line += f" ({others} of other versions left out; --version chooses)"
    return line


def summary_lines(window: Window, report: DriftReport, evidently: dict[str, Any] | None,
                  out: Path | None) -> list[str]:
    lines = [describe_window(window)]
    if window.without_features:
        lines.append(f"  {window.without_features} more records have no drift features (outside "
                     "the log's features sample, or text the log summarised) and are left out")
    lines.append(f"  drift score {report.score:.2f} ({report.level}); inputs "
                 f"{_fmt(report.input_score)}, outputs {_fmt(report.output_score)}; "
                 "warning 0.3, critical 0.5")
    drifted = [(n, report.features[n]) for n in report.drifted]
    lines.append("  drifted: " + (", ".join(
        f"{n} {f.score:.2f}" for n, f in sorted(drifted, key=lambda kv: -kv[1].score))
        or "none"))
    if evidently:
        lines.append(f"  Evidently: {evidently['drifted_columns']} of {evidently['columns']} "
                     f"columns drifted (share {evidently['share']:.2f}); its reference is "
                     f"{evidently['reference_rows']} rows drawn from the profile")
    if out is not None:
        lines.append(f"  report: {out}")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def banner_html(window: Window, report: DriftReport, profile: dict[str, Any]) -> str:
    """The header put above Evidently's page: what is compared, and that the reference is a
    sample drawn from the profile, not training rows."""
    text = (f"<b>finfleet drift report</b>: {html.escape(describe_window(window))}. "
            f"finfleet's drift score <b>{report.score:.2f} ({report.level})</b>, drifted: "
            f"{html.escape(', '.join(report.drifted) or 'none')}.<br>"
            f"The <i>reference</i> below is a sample of {profile.get('rows')} rows drawn from "
            f"version {html.escape(window.version)}'s reference profile (numbers by inverse CDF "
            f"over its 101 stored quantiles, categories by their frequencies, each feature "
            f"independently, seed {SEED}); the artifact keeps no training rows. Evidently's "
            "tests and finfleet's score are different statistics (docs/drift.md).")
    return (f'<div id="finfleet-banner" style="font-family:sans-serif;font-size:14px;'
            f'padding:10px 16px;background:#fff8e1;border-bottom:1px solid #e0c96b">{text}</div>')


# --- the command -------------------------------------------------------------------------------
def report(args: argparse.Namespace) -> dict[str, Any]:
    from kit.artifacts import ArtifactError
    from kit.registry import RegistryError, open_registry
    from kit.releases import service_settings

    names = load_catalog().names
    if args.name not in names:
        raise ReportError(f"no model named {args.name!r}; models: {', '.join(names)}")
    settings = service_settings(args.name, args.model_dir)
    if args.log_url is not None:
        settings.log_url = args.log_url or None
    if args.log_dir is not None:
        settings.log_dir = args.log_dir
    until = args.until if args.until is not None else time.time()
    if until <= args.since:
        raise ReportError(f"the window is empty: --until {stamp(until)} is not after --since "
                          f"{stamp(args.since)}")
    registry = open_registry(settings, args.name)
    version = args.version or serving_version(settings, registry)
    try:
        artifact = registry.fetch(version)
    except (ArtifactError, RegistryError, OSError) as exc:
        raise ReportError(f"cannot load {args.name} {version}: {exc}") from exc
    profile = reference_profile(artifact.manifest)
    if profile is None:
        raise ReportError(f"{args.name} {version} has no reference profile (trained before "
                          f"profiles): retrain it (`finfleet train {args.name}`)")
    python = evidently_python(args.evidently_venv)
    store = open_log_store(settings.log_url, log_directory(settings))
    try:
        window = read_window(store, args.name, version, args.since, until, artifact)
    except Exception as exc:  # the log's backend: unreachable, refused, unreadable
        raise ReportError(f"cannot read {args.name}'s prediction log: {exc}") from exc
    finally:
        store.close()
    if not window.rows:
        raise ReportError(describe_window(window) + ": nothing to report"
                          + ("" if not window.without_features else
                             f" ({window.without_features} records without drift features)"))
    drift = compare(profile, window.rows)
    out = args.out or Path(f"drift-report-{args.name}-{version}.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    kinds = columns(profile, window.rows)
    evidently = run_evidently(python, profile, window, kinds, out.resolve(),
                              banner_html(window, drift, profile))
    return {"window": window, "drift": drift, "evidently": evidently, "out": out}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        done = report(args)
    except ReportError as exc:
        print(f"finfleet drift report: {exc}", file=sys.stderr)
        return 1
    if args.json:
        window: Window = done["window"]
        print(json.dumps({"model": window.name, "version": window.version,
                          "since": window.since, "until": window.until,
                          "records": len(window.rows), "other_versions": window.other_versions,
                          "without_features": window.without_features,
                          "drift": done["drift"].as_dict(), "evidently": done["evidently"],
                          "out": str(done["out"])}, indent=2))
    else:
        print("\n".join(summary_lines(done["window"], done["drift"], done["evidently"],
                                      done["out"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
