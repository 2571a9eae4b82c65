"""The drift report's screenshot in docs (docs/img/drift-report.png), remade from scratch:
shifted credit traffic through a real credit service, `finfleet drift report`, headless chromium.

    .venv/bin/python -m bench.drift_page [--model-dir models] [--requests 400]
        [--html bench/work/drift-report-credit.html] [--png docs/img/drift-report.png]

The service serves the newest credit version that has a reference profile (pinned with
CREDIT_MODEL_VERSION) and logs to a fresh folder; the traffic is the drift scenario's
(tests/test_drift_scenarios.py): `generate_applications(seed=1234)` with incomes × 0.6. Needs
`make evidently` and chromium (`apt-get install -y chromium`). The integration test
(tests/test_drift_report.py) replays the same traffic with `replay`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from kit import procs
from kit.artifacts import ArtifactStore
from kit.predlog_store import LogStore, open_log_store
from kit.profile import reference_profile
from kit.settings import REPO_ROOT

WORK = REPO_ROOT / "bench" / "work"
PNG = REPO_ROOT / "docs" / "img" / "drift-report.png"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--hide-scrollbars")


def poorer_applications(n: int, seed: int = 1234) -> list[dict]:
    """Credit applications drawn like the training data, every income × 0.6 (₹100 rounded)."""
    from services.credit.data import generate_applications

    frame = generate_applications(n=n, seed=seed).frame
    return frame.assign(income=(frame["income"] * 0.6).round(-2)).to_dict("records")


def replay(url: str, instances: list[dict], batch: int = 25) -> int:
    """POST the instances to a credit service in batches; the predictions answered."""
    answered = 0
    for start in range(0, len(instances), batch):
        body = json.dumps({"instances": instances[start:start + batch]}).encode()
        status, raw = procs.post_json(f"{url}/v1/models/credit:predict", body)
        if status != 200:
            raise RuntimeError(f"credit answered {status}: {raw[:300]!r}")
        answered += len(json.loads(raw)["predictions"])
    return answered


def serve_and_replay(model_dir: Path, log_dir: Path, instances: list[dict],
                     version: str | None = None, log_url: str | None = None) -> None:
    """A real credit service logging every request into `log_dir` (or the PostgreSQL at
    `log_url`), sent `instances`, and stopped once the log holds every one of them (a stop
    signal reaches the log's writer process too, so what is queued then may be lost)."""
    env = {"CREDIT_LOG_DIR": str(log_dir), "CREDIT_LOG_FLUSH_SECONDS": "0.2",
           "CREDIT_LOG_LEVEL": "WARNING", "CREDIT_QUALITY_SECONDS": "0"}
    if version:
        env["CREDIT_MODEL_VERSION"] = version
    if log_url:
        env["CREDIT_LOG_URL"] = log_url
    service = procs.start_service("credit", model_dir, log_dir, env=env)
    try:
        replay(service.url, instances)
        wait_logged(open_log_store(log_url, log_dir), len(instances))
    finally:
        service.stop()


def wait_logged(store: LogStore, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    try:
        while (seen := logged(store)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the credit log holds {seen} of {count} records after "
                                   f"{timeout_s:.0f} s")
            time.sleep(0.2)
    finally:
        store.close()


def logged(store: LogStore) -> int:
    try:
        return len(store.read_predictions("credit"))
    except Exception:  # the writer has not made its file or tables yet
        return 0


def screenshot(html: Path, png: Path, size: str = "1400,1800") -> None:
    """chromium's own screenshot of the page (no network: Evidently's page carries its JS and
    fonts inline)."""
    binary = procs.find_binary("chromium") or procs.find_binary("chromium-browser")
    if binary is None:
        raise SystemExit("drift_page: chromium is not installed (apt-get install -y chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([binary, *CHROMIUM_FLAGS, f"--window-size={size}",
                    "--virtual-time-budget=15000", f"--screenshot={png}", html.resolve().as_uri()],
                   check=True, capture_output=True, timeout=180)


def newest_profiled(model_dir: Path) -> str:
    store = ArtifactStore(model_dir, "credit")
    for version in reversed(store.versions()):
        if reference_profile(store.load(version).manifest) is not None:
            return version
    raise SystemExit(f"drift_page: no credit version with a reference profile in {model_dir} "
                     "(`finfleet train credit`)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drift_page", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--html", type=Path, default=WORK / "drift-report-credit.html")
    parser.add_argument("--png", type=Path, default=PNG)
    args = parser.parse_args(argv)
    version = newest_profiled(args.model_dir)
    log_dir = WORK / "drift-page-log"
    shutil.rmtree(log_dir, ignore_errors=True)
    serve_and_replay(args.model_dir, log_dir, poorer_applications(args.requests), version)
    command = [sys.executable, "-m", "fleet.cli", "drift", "report", "credit", "--since", "1h",
               "--model-dir", str(args.model_dir), "--version", version, "--log-dir",
               str(log_dir), "--out", str(args.html)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    print(done.stdout + done.stderr, end="")
    if done.returncode != 0:
        return done.returncode
    screenshot(args.html, args.png)
    print(f"screenshot: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
