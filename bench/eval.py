"""`python -m bench.eval`: train each model on its public benchmark and write `bench/EVAL.md`.

Each benchmark is one entry of BENCHMARKS: the service's own training CLI run on a dataset from
`../shared/data/` into a temporary model folder, and the manifest keys to read back. An entry is
skipped with a message when its CLI or its dataset is absent. The whole run is bounded (20 min).

    python -m bench.eval                  # every benchmark
    python -m bench.eval --only credit    # one service
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fleet import module_exists
from bench.machine import machine_info
from kit.settings import REPO_ROOT

BENCH_DIR = Path(__file__).resolve().parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
EVAL_MD = BENCH_DIR / "EVAL.md"
BUDGET_S = 20 * 60


@dataclass(frozen=True)
class Metric:
    """One number read from the manifest (first key path that exists) and the goal it meets."""

    label: str
    paths: tuple[str, ...]
    goal: float | None = None
    higher_is_better: bool = True
    percent: bool = False

    def read(self, manifest: dict) -> float | None:
        for path in self.paths:
            value: Any = manifest
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return None

    def meets(self, value: float) -> bool | None:
        if self.goal is None:
            return None
        return value >= self.goal if self.higher_is_better else value <= self.goal

    def show(self, value: float | None) -> str:
        if value is None:
            return "–"
        return f"{100 * value:.2f}%" if self.percent else f"{value:.4f}"


@dataclass(frozen=True)
class Benchmark:
    service: str
    title: str
    module: str
    args: tuple[str, ...]
    dataset: str  # folder under ../shared/data
    metrics: tuple[Metric, ...]
    reference: str  # the published figures and the goal the service's issue asks for
    timeout_s: int = 600
    model_dir_flag: str = "--model-dir"
    artifact: str | None = None  # model name in the temp folder; None: the newest manifest
    source: str = "manifest"  # or "stdout": the CLI prints its result as one JSON document

    def argv(self, model_dir: Path) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args, self.model_dir_flag, str(model_dir)]


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "credit", "UCI German Credit (1,000 applications, 5:1 costs)", "services.credit.train",
        ("--data", "german_credit"), "german_credit",
        (Metric("CV AUC, all rows (5-fold mean)", ("metrics.cv_all_rows.auc.mean",), 0.80),
         Metric("CV AUC, training rows", ("metrics.cv.auc.mean",)),
         Metric("holdout AUC", ("metrics.holdout.auc",))),
        "published XGBoost / random forest ~0.77–0.80 AUC; goal ≥ 0.80 CV AUC", 900,
        artifact="credit"),
    Benchmark(
        "ner", "FIRE dev (10-K and news sentences; not trained on)", "services.ner.train",
        (), "fire",
        (Metric("MONEY exact F1", ("metrics.fire_dev.exact.MONEY.f1",), 0.80),
         Metric("DATE exact F1", ("metrics.fire_dev.exact.DATE.f1",), 0.75),
         Metric("hand-written set micro exact F1", ("metrics.eval_set.exact.micro.f1",), 0.90)),
        "goal MONEY F1 ≥ 0.80, DATE F1 ≥ 0.75 on FIRE dev; hand-written set micro F1 ≥ 0.90",
        900, artifact="ner"),
    Benchmark(
        "intent", "Banking77 (10,003 train / 3,080 test queries, 77 intents)",
        "services.intent.train", ("--data", "banking77"), "banking77",
        (Metric("test accuracy", ("metrics.accuracy",), 0.945, percent=True),
         Metric("test accuracy, no out-of-scope threshold",
                ("metrics.accuracy_without_threshold",), percent=True)),
        "fine-tuned BERT 93.6%, USE+ConveRT 93.4% (Casanueva et al., 2020); goal ≥ 94.5%", 900,
        artifact="intent_banking77"),
    Benchmark(
        "spending", "M3 monthly (fixed-seed sample of 300 of 1,428 series, last 18 points held "
        "out)", "services.spending.train", ("--eval", "m3", "--sample", "300", "--no-progress"),
        "m3_monthly",
        (Metric("sMAPE (Prophet + Theta combination)", ("smape.combination",), 14.5,
                higher_is_better=False),
         Metric("Theta sMAPE (same code)", ("smape.theta",), higher_is_better=False),
         Metric("Naive2 sMAPE (same code)", ("smape.naive2",), higher_is_better=False)),
        "Theta 13.85, ForecastPro 13.86, Naive2 16.91 (Makridakis & Hibon, 2000); "
        "goal ≤ 14.5", 900, source="stdout"),
    Benchmark(
        "anomaly", "Fraud Detection Handbook simulated transactions (431k, 0.89% fraud)",
        "services.anomaly.train", ("--data", "handbook"), "fraud_sim_handbook",
        (Metric("AUC-ROC", ("metrics.holdout.auc_roc",), 0.85),
         Metric("average precision", ("metrics.holdout.average_precision",), 0.35),
         Metric("card precision@100 per day", ("metrics.holdout.card_precision_at_100_mean",))),
        "goal AUC-ROC ≥ 0.85 and average precision ≥ 0.35", 900, artifact="anomaly"),
)


@dataclass
class Outcome:
    service: str
    title: str
    status: str  # "ok" | "skipped" | "failed"
    reason: str = ""
    seconds: float = 0.0
    values: dict[str, float | None] = field(default_factory=dict)
    command: str = ""


def newest_manifest(model_dir: Path, artifact: str | None) -> dict | None:
    """The manifest the run wrote: under `<artifact>/` when named, else the newest anywhere."""
    root = model_dir / artifact if artifact else model_dir
    found = sorted(root.glob("*/manifest.json") if artifact else root.glob("*/*/manifest.json"),
                   key=lambda p: p.stat().st_mtime)
    return json.loads(found[-1].read_text()) if found else None


def printed_json(stdout: str) -> dict | None:
    """The JSON object a CLI printed: from its first line that opens `{` to the `}` closing it."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("{")]
    ends = [i for i, line in enumerate(lines) if line.startswith("}")]
    if not starts or not ends:
        return None
    try:
        return json.loads("\n".join(lines[starts[0]:ends[-1] + 1]))
    except json.JSONDecodeError:
        return None


def skip_reason(bench: Benchmark, data_root: Path) -> str | None:
    if not module_exists(bench.module):
        return f"`python -m {bench.module}` does not exist yet"
    if not (data_root / bench.dataset).is_dir():
        return f"dataset {data_root / bench.dataset} is absent"
    return None


def run_benchmark(bench: Benchmark, data_root: Path, timeout_s: float) -> Outcome:
    outcome = Outcome(bench.service, bench.title, "skipped")
    reason = skip_reason(bench, data_root)
    if reason:
        outcome.reason = reason
        return outcome
    with tempfile.TemporaryDirectory(prefix=f"eval-{bench.service}-") as tmp:
        argv = bench.argv(Path(tmp))
        outcome.command = " ".join(["python", *argv[1:-2], bench.model_dir_flag, "<tmp>"])
        print(f"eval: {bench.service}: {outcome.command}", flush=True)
        started = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=REPO_ROOT, timeout=timeout_s, capture_output=True,
                                  text=True)
        except subprocess.TimeoutExpired:
            outcome.status, outcome.reason = "failed", f"no result within {timeout_s:.0f}s"
            outcome.seconds = round(time.monotonic() - started, 1)
            return outcome
        outcome.seconds = round(time.monotonic() - started, 1)
        output = (done.stdout + "\n" + done.stderr).strip()
        tail = " / ".join(output.splitlines()[-3:])[-400:]
        if done.returncode != 0:
            outcome.status, outcome.reason = "failed", f"exit {done.returncode}: {tail}"
            return outcome
        if bench.source == "stdout":
            manifest = printed_json(done.stdout)
        else:
            manifest = newest_manifest(Path(tmp), bench.artifact)
    if manifest is None:
        outcome.status, outcome.reason = "failed", f"no result found; output: {tail}"
        return outcome
    outcome.values = {m.label: m.read(manifest) for m in bench.metrics}
    missing = [label for label, value in outcome.values.items() if value is None]
    outcome.status = "ok"
    if missing:
        outcome.reason = f"not in the manifest: {', '.join(missing)}"
    return outcome


def render_markdown(outcomes: list[Outcome], machine: dict, started: str, seconds: float) -> str:
    by_service = {b.service: b for b in BENCHMARKS}
    lines = [
        "# Accuracy on public benchmarks",
        "",
        f"`python -m bench.eval`, {started}, {seconds / 60:.1f} min on {machine['cpu']} "
        f"({machine['cores']} cores, shared). Each model is trained by its own CLI on the "
        "public dataset in `../shared/data/` into a temporary folder; the numbers are read "
        "from the manifest it writes.",
        "",
        "| service | benchmark | metric | ours | goal met | published / goal | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        bench = by_service[o.service]
        if o.status != "ok":
            lines.append(f"| {o.service} | {o.title} | – | {o.status} | – | {bench.reference} "
                         f"| {o.seconds:.0f} s |")
            continue
        for i, metric in enumerate(bench.metrics):
            value = o.values.get(metric.label)
            met = metric.meets(value) if value is not None else None
            lines.append(
                f"| {o.service if i == 0 else ''} | {o.title if i == 0 else ''} | {metric.label} "
                f"| {metric.show(value)} | {'–' if met is None else 'yes' if met else 'no'} "
                f"| {bench.reference if i == 0 else ''} | {f'{o.seconds:.0f} s' if i == 0 else ''}"
                " |")
    notes = [o for o in outcomes if o.reason or o.command]
    if notes:
        lines += ["", "## Runs", ""]
        for o in notes:
            what = f"`{o.command}`" if o.command else ""
            lines.append(f"- **{o.service}** ({o.status}) {what}"
                         + (f": {o.reason}" if o.reason else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run only this service's benchmark")
    parser.add_argument("--data-root", type=Path, default=SHARED_DATA)
    parser.add_argument("--budget-s", type=float, default=BUDGET_S,
                        help="stop starting benchmarks once this much time is spent")
    parser.add_argument("--markdown", type=Path, default=EVAL_MD)
    args = parser.parse_args(argv)
    benches = [b for b in BENCHMARKS if not args.only or b.service == args.only]
    started = datetime.now(UTC)
    began = time.monotonic()
    outcomes = []
    for bench in benches:
        left = args.budget_s - (time.monotonic() - began)
        if left < 30:
            outcomes.append(Outcome(bench.service, bench.title, "skipped",
                                    f"the {args.budget_s / 60:.0f}-minute budget was spent"))
            continue
        outcome = run_benchmark(bench, args.data_root, min(bench.timeout_s, left))
        print(f"eval: {bench.service}: {outcome.status} {outcome.values or ''} {outcome.reason}",
              flush=True)
        outcomes.append(outcome)
    elapsed = time.monotonic() - began
    markdown = render_markdown(outcomes, machine_info(), started.isoformat(timespec="seconds"),
                               elapsed)
    args.markdown.write_text(markdown)
    results = BENCH_DIR / "results" / f"eval-{started.strftime('%Y%m%d-%H%M%S')}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    print(markdown)
    print(f"eval: wrote {args.markdown} and {results} in {elapsed / 60:.1f} min")
    return 0 if all(o.status != "failed" for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
