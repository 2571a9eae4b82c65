"""`finfleet retrain NAME` (`python -m kit.retrain`): retrain a model from what it served.

The steps, each a progress line:
1. read the model's prediction log joined with its outcomes, from the store the model writes
   (`<NAME>_LOG_URL`, else the SQLite files in `<NAME>_LOG_DIR`; kit.predlog_store);
2. check drift: the window's features (the log's `features` column, or the serving version's
   `drift_features` hook on the logged instances) against the production version's reference
   profile (kit.drift.compare), and count the labels that arrived since production was trained.
   The rule (docs/retraining.md): retrain when the drift score is at least `--drift-threshold`
   (0.3, the warning level) **or** at least `--new-labels` (200) outcomes arrived since;
   `--force` retrains whatever the check says;
3. write the training file in the model's own-data format (`services/<svc>/retrain_data.py`,
   `log_dataset(labelled, out, original) -> rows`), with the original training data unless
   `--log-only`;
4. train it with the model's own trainer (`python -m <trainer> --data FILE`, exactly what
   `finfleet train NAME --data FILE` runs: the same checks, report and `candidate`
   registration);
5. hand the candidate to the gate (kit.gate): its table is printed; production moves only with
   `--promote`, through kit.releases.promote.

Exit status (one line on stderr says why):
  0  a candidate was trained and judged (and promoted, with --promote and a passing gate)
  1  the trainer failed                    2  bad arguments
  3  the gate refused the promotion        4  the promotion was refused for another reason
  5  too few labelled records              6  the prediction log is unreachable
  7  drift cannot be checked (no reference profile, no features in the window; --force skips)
  8  no retraining-from-log for this model yet (no services/<svc>/retrain_data.py)
  9  the log's records cannot make a training file (text not logged, the trainer refused it)
  10 not needed: drift below the threshold and too few new labels (nothing trained)
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from kit.artifacts import Artifact
from kit.catalog import load_catalog
from kit.drift_window import window_features
from kit.durations import duration_seconds
from kit.predlog import log_directory
from kit.predlog_store import LogStore, LogUnavailable, open_log_store
from kit.registry import CANDIDATE, PRODUCTION, Registry, open_registry
from kit.training import Progress

OK, TRAINING_FAILED, USAGE = 0, 1, 2
GATE_REFUSED, PROMOTION_REFUSED = 3, 4
TOO_FEW_LABELLED, LOG_UNREACHABLE, NO_DRIFT_CHECK = 5, 6, 7
NOT_SUPPORTED, DATA_UNUSABLE, NOT_NEEDED = 8, 9, 10

DRIFT_THRESHOLD = 0.3  # kit.drift.WARNING: the seeds' pipeline retrained from this level
NEW_LABELS = 200
MIN_LABELLED = 100
DRIFT_WINDOW = 5000  # the newest served records the drift check reads
DATA_MODULE = "retrain_data"


class RetrainError(Exception):
    """A retraining run that stops: `status` is the exit status, the message the one line."""

    status = TRAINING_FAILED

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class LogDataError(RetrainError):
    """The labelled records cannot make the model's training file (a `log_dataset` says why:
    the text was not logged, no record has a usable label)."""

    status = DATA_UNUSABLE


def parse_since(text: str) -> float:
    """`30d`, `12h`, `90m`, `3600s`, `2w` → seconds."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"{text!r}: a number and a unit (s, m, h, d, w): 30d")
    return seconds


def dataset_module(name: str) -> ModuleType:
    """The service's `retrain_data` module (what "new data" means for it), or NOT_SUPPORTED."""
    row = load_catalog().service(name)
    target = f"{row.module_name}.{DATA_MODULE}"
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name != target:
            raise
        raise RetrainError(f"no retraining-from-log for {name} yet ({target.replace('.', '/')}"
                           ".py is missing); train it with: finfleet train "
                           f"{name}", NOT_SUPPORTED) from None


def text_key(text: str) -> str:
    """One spelling of a text for de-duplication: case and runs of spaces ignored."""
    return " ".join(text.lower().split())


def corrected_texts(labelled: list[dict[str, Any]], field: str = "text"
                    ) -> dict[str, tuple[str, Any]]:
    """A text model's corrections: text key → (text, newest label), from the labelled records
    whose text the log kept (`<NAME>_LOG_INPUTS=true`); a LogDataError when none did."""
    out: dict[str, tuple[str, Any]] = {}
    for record in sorted(labelled, key=lambda r: r.get("labelled_at") or 0):
        text = (record.get("input") or {}).get(field)
        if isinstance(text, str) and text.strip():
            out[text_key(text)] = (text.strip(), record["label"])
    if labelled and not out:
        name = (labelled[0].get("model") or "<name>").upper()
        raise LogDataError(f"none of the {len(labelled)} labelled records has its text in the "
                           f"log: the service logged only a summary of each text (set "
                           f"{name}_LOG_INPUTS=true so that served texts can train)")
    return out


# --- the drift check ---------------------------------------------------------------------------
@dataclass
class Decision:
    retrain: bool
    why: str
    drift: Any  # kit.drift.DriftReport, or None when it could not be computed
    new_labels: int


def created_at(artifact: Artifact) -> float:
    stamp = artifact.manifest.get("created_at")
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else 0.0
    except ValueError:
        return 0.0


def decide(drift_score: float | None, new_labels: int, *, threshold: float, min_new: int,
           force: bool) -> tuple[bool, str]:
    """The rule: retrain when drift ≥ threshold or new labels ≥ min_new (or when forced)."""
    shown = "unknown" if drift_score is None else f"{drift_score:.3f}"
    if force:
        return True, f"--force (drift {shown}, {new_labels} new labels)"
    if drift_score is not None and drift_score >= threshold:
        return True, f"drift {shown} ≥ {threshold:g}"
    if new_labels >= min_new:
        return True, f"{new_labels} new labels ≥ {min_new} (drift {shown})"
    return False, (f"drift {shown} < {threshold:g} and {new_labels} new labels < {min_new}; "
                   "nothing to retrain (--force retrains anyway)")


def check_drift(name: str, production: Artifact, predictions: list[dict[str, Any]],
                labelled: list[dict[str, Any]], args: argparse.Namespace) -> Decision:
    from kit.drift import compare
    from kit.profile import reference_profile

    since_trained = created_at(production)
    new_labels = sum(1 for r in labelled if (r.get("labelled_at") or 0) >= since_trained)
    profile = reference_profile(production.manifest)
    report, problem = None, None
    if profile is None:
        problem = f"{name} {production.version} has no reference profile"
    else:
        served = [r for r in predictions if r["version"] == production.version] or predictions
        rows = window_features(name, production, served[-DRIFT_WINDOW:])
        if rows:
            report = compare(profile, rows)
        else:
            problem = (f"none of the {len(served)} served records has drift features (the log's "
                       "`features` column, or an instance the hook can read)")
    score = None if report is None else report.score
    retrain, why = decide(score, new_labels, threshold=args.drift_threshold,
                          min_new=args.new_labels, force=args.force)
    if problem and not retrain:
        raise RetrainError(f"drift cannot be checked: {problem}; retrain with --force",
                           NO_DRIFT_CHECK)
    if problem:
        why += f"; {problem}"
    return Decision(retrain, why, report, new_labels)


def describe_drift(report: Any) -> str:
    if report is None:
        return "drift: not computed"
    top = sorted(report.features.values(), key=lambda f: -f.score)[:3]
    worst = ", ".join(f"{f.name} {f.score:.2f}" for f in top)
    return (f"drift score {report.score:.3f} ({report.level}) over {report.window} served "
            f"records; highest features: {worst or '-'}")


# --- training and the gate ---------------------------------------------------------------------
def train(name: str, module: ModuleType, data: Path, model_dir: Path,
          trainer_args: Sequence[str]) -> int:
    """The model's trainer on the file, as `finfleet train NAME --data FILE` runs it."""
    argv = [sys.executable, "-m", load_catalog().service(name).trainer_module,
            "--model-dir", str(model_dir), "--data", str(data),
            *getattr(module, "TRAINER_ARGS", ()), *trainer_args]
    return subprocess.run(argv).returncode


def judge(name: str, registry: Registry, version: str, production: str | None, *,
          promote: bool, actor: str, say: Any) -> int:
    """The gate's table for the candidate; production moves only with `promote`."""
    from kit import releases

    if production is None or production == version:
        say(f"{name} {version} is the model's first version: nothing to gate it against")
        return OK
    if promote:
        say(f"gating {name} {version} against production {production} (--promote)")
        try:
            done = releases.promote(registry, version, actor=actor,
                                    reason=f"retrained from the prediction log ({actor})")
        except releases.GateRefused as exc:
            print(exc.extensions["table"], flush=True)
            say(f"the gate refused {name} {version}; production stays {production}, "
                f"{version} stays the candidate")
            return GATE_REFUSED
        except releases.ReleaseRefused as exc:
            say(f"promotion refused: {exc.detail}")
            return PROMOTION_REFUSED
        print(done.gate.table(), flush=True)
        say(f"gate passed: {name} production {production} → {version} "
            f"(change #{done.change.seq})")
        return OK
    say(f"gating {name} {version} against production {production} (judged only: production "
        "moves with --promote)")
    from kit.gate import evaluate_release

    gate = evaluate_release(name, registry.fetch(version), registry.fetch(production))
    print(gate.table(), flush=True)
    verdict = "would pass" if gate.passed else "would refuse"
    say(f"the gate {verdict} {name} {version}; production stays {production} "
        f"(promote with: finfleet models promote {name} {version})")
    return OK


# --- the command -------------------------------------------------------------------------------
def switch(p: argparse.ArgumentParser, dest: str, default: bool, *, on: tuple[str, str],
           off: tuple[str, str]) -> None:
    """Two exclusive flags (name, help) that set `dest` true and false."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(on[0], dest=dest, action="store_true", default=default, help=on[1])
    group.add_argument(off[0], dest=dest, action="store_false", help=off[1])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="finfleet retrain", allow_abbrev=False,
        description="Retrain a model from its prediction log joined with outcomes, check "
                    "drift first, register a candidate and hand it to the gate. Arguments "
                    "not listed here go to the model's trainer (--quick, --no-progress, ...).")
    p.add_argument("name", help="the model (services.toml)")
    p.add_argument("--since", type=parse_since, default=parse_since("30d"),
                   help="how far back the log is read (default 30d; s, m, h, d, w)")
    switch(p, "original", True,
           on=("--with-original", "add the original training data (default; per model: docs)"),
           off=("--log-only", "train on the logged, labelled records alone"))
    p.add_argument("--min-labelled", type=int, default=MIN_LABELLED,
                   help=f"fewest labelled records to retrain on (default {MIN_LABELLED})")
    switch(p, "force", False, on=("--force", "retrain whatever the drift check says"),
           off=("--drift-check", "retrain only when the rule says so (default)"))
    p.add_argument("--drift-threshold", type=float, default=DRIFT_THRESHOLD,
                   help=f"drift score that calls for retraining (default {DRIFT_THRESHOLD})")
    p.add_argument("--new-labels", type=int, default=NEW_LABELS,
                   help="outcomes since production was trained that call for retraining "
                        f"(default {NEW_LABELS})")
    p.add_argument("--promote", action="store_true",
                   help="promote the candidate when the gate passes (default: judge only)")
    p.add_argument("--model-dir", type=Path, default=None,
                   help="the registry's folder (default: the service's <NAME>_MODEL_DIR)")
    p.add_argument("--log-url", default=None, help="the log's PostgreSQL (default <NAME>_LOG_URL)")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="the embedded log's folder (default <NAME>_LOG_DIR)")
    p.add_argument("--data-out", type=Path, default=None,
                   help="keep the training file here (default: a temporary file)")
    p.add_argument("--actor", default="cli", help="who the registry records (default cli)")
    return p


def open_store(settings: Any, args: argparse.Namespace) -> LogStore:
    url = args.log_url or settings.log_url
    directory = args.log_dir or log_directory(settings)
    try:
        return open_log_store(url, directory)
    except ValueError as exc:
        raise RetrainError(str(exc), LOG_UNREACHABLE) from exc


def read_log(store: LogStore, name: str, since: float) -> tuple[list, list]:
    try:
        predictions = store.read_predictions(name, since)
        labelled = store.labelled(name, since)
    except (LogUnavailable, OSError, sqlite3.Error) as exc:
        raise RetrainError(f"the prediction log is unreachable: {exc}", LOG_UNREACHABLE) from exc
    finally:
        store.close()
    keep = lambda rows: [r for r in rows if r["served_by"] != "shadow"]  # noqa: E731
    return keep(predictions), keep(labelled)


def retrain(args: argparse.Namespace, trainer_args: Sequence[str], progress: Progress) -> int:
    from kit.releases import service_settings

    name = args.name
    say = progress.say
    module = dataset_module(name)
    settings = service_settings(name, args.model_dir)
    registry = open_registry(settings, name)
    aliases = registry.aliases().aliases
    production_version = aliases.get(PRODUCTION)
    if production_version is None:
        raise RetrainError(f"{name} has no production version to retrain from; train it "
                           f"first: finfleet train {name}", NOT_SUPPORTED)
    production = registry.fetch(production_version)

    since = time.time() - args.since
    say(f"reading {name}'s prediction log since "
        f"{datetime.fromtimestamp(since, UTC).isoformat(timespec='seconds')}")
    predictions, labelled = read_log(open_store(settings, args), name, since)
    say(f"{len(predictions)} served records, {len(labelled)} with an outcome")
    # Spending learns from the served histories themselves: no outcome needed.
    needs_outcomes = getattr(module, "NEEDS_OUTCOMES", True)
    records = labelled if needs_outcomes else predictions
    if len(records) < args.min_labelled:
        raise RetrainError(
            f"too few labelled records: {len(labelled)} of {name}'s predictions since then "
            f"have an outcome; at least {args.min_labelled} are needed (--min-labelled)"
            if needs_outcomes else f"too few served records: {len(predictions)} of {name}'s "
            f"since then; at least {args.min_labelled} are needed (--min-labelled)",
            TOO_FEW_LABELLED)

    say(f"checking drift against {production_version}'s reference profile")
    decision = check_drift(name, production, predictions, labelled, args)
    say(describe_drift(decision.drift))
    if not decision.retrain:
        say(decision.why)
        return NOT_NEEDED
    say(f"retraining: {decision.why}")

    with tempfile.TemporaryDirectory(prefix=f"retrain-{name}-") as work:
        suffix = getattr(module, "DATA_SUFFIX", ".csv")
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        data = args.data_out or Path(work) / f"{name}-log-{stamp}{suffix}"
        data.parent.mkdir(parents=True, exist_ok=True)
        rows = module.log_dataset(records, data, args.original)
        original = getattr(module, "ORIGINAL", "the original training data")
        say(f"wrote {rows} training rows to {data} ("
            + (f"with {original})" if args.original else "logged records only)"))
        say(f"training {name} on it")
        code = train(name, module, data, settings.model_dir, trainer_args)
    if code == USAGE:
        raise RetrainError(f"the {name} trainer refused the file built from the log (problems "
                           "above)", DATA_UNUSABLE)
    if code != 0:
        raise RetrainError(f"training failed (exit {code}); the registry is unchanged",
                           TRAINING_FAILED)
    candidate = registry.aliases().aliases.get(CANDIDATE)
    if candidate is None or candidate == aliases.get(CANDIDATE):
        raise RetrainError("training registered no new candidate", PROMOTION_REFUSED)
    say(f"{name} {candidate} is the candidate")
    return judge(name, registry, candidate, production_version, promote=args.promote,
                 actor=args.actor, say=say)


def main(argv: Sequence[str] | None = None) -> int:
    args, trainer_args = parser().parse_known_args(argv)
    progress = Progress()
    try:
        load_catalog().service(args.name)
    except KeyError:
        print(f"retrain: no model named {args.name!r}; models: "
              f"{', '.join(load_catalog().names)}", file=sys.stderr)
        return USAGE
    try:
        return retrain(args, trainer_args, progress)
    except RetrainError as exc:
        print(f"retrain {args.name}: {exc}", file=sys.stderr, flush=True)
        return exc.status


if __name__ == "__main__":
    raise SystemExit(main())
