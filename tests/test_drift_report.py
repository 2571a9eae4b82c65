"""`finfleet drift report` end to end: a real credit service logs shifted traffic (incomes × 0.6)
over HTTP, the command reads that log, prints finfleet's verdict and writes Evidently's HTML
from Evidently's own venv (`make evidently`; skipped with a message without it, failed in CI).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from bench.drift_page import poorer_applications, serve_and_replay
from kit.drift_report import EVIDENTLY_VENV
from tests.procs import REPO_ROOT, PostgresServer, trained_credit_dir
from tests.test_docs_pages import rendered_dom

pytestmark = pytest.mark.integration
REQUESTS = 300


def require_evidently() -> None:
    if (EVIDENTLY_VENV / "bin" / "python").is_file():
        return
    message = f"no Evidently venv at {EVIDENTLY_VENV}: run `make evidently`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def evidently_verdicts(page: str) -> dict[str, str]:
    """Each column's `Detected` / `Not Detected` as Evidently's drift table shows it (the
    widgets' JSON inside the page)."""
    out = {}
    for found in re.finditer(r'"column_name": "([\w.]+)", "column_type": "\w+"', page):
        verdict = re.search(r'"data_drift": "(Detected|Not Detected)"', page[found.end():])
        if verdict:
            out.setdefault(found.group(1), verdict.group(1))
    return out


def report(model_dir, out, *log: str) -> dict:
    """`finfleet drift report credit --since 1h --json` as a person runs it; its summary."""
    done = subprocess.run(
        [sys.executable, "-m", "fleet.cli", "drift", "report", "credit", "--since", "1h",
         "--model-dir", str(model_dir), "--out", str(out), *log, "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_shifted_credit_traffic_gives_an_evidently_page_that_shows_income_drift(
        tmp_path, tmp_path_factory):
    require_evidently()
    model_dir = trained_credit_dir(tmp_path_factory)
    log_dir = tmp_path / "log"
    serve_and_replay(model_dir, log_dir, poorer_applications(REQUESTS))
    out = tmp_path / "report" / "credit.html"
    summary = report(model_dir, out, "--log-dir", str(log_dir))
    # every request logged; drift features on the log writer's sample (credit's bucket: all)
    assert summary["records"] + summary["without_features"] == REQUESTS
    assert summary["records"] == REQUESTS and summary["other_versions"] == {}
    drift = summary["drift"]
    assert drift["score"] > 0.3 and "income" in drift["drifted"], drift
    assert not {"age", "tenure_months", "employment_type"} & set(drift["drifted"])
    evidently = summary["evidently"]
    assert evidently["per_column"]["income"]["drifted"] is True
    assert evidently["current_rows"] == summary["records"]

    page = out.read_text()
    verdicts = evidently_verdicts(page)
    assert verdicts["income"] == "Detected" and len(verdicts) == evidently["columns"], verdicts
    assert "Drift is detected for" in page
    assert "drawn from" in page and summary["version"] in page  # finfleet's header
    assert not re.search(r"<script[^>]+src=", page)  # the page needs no CDN
    # and in a browser with no network: the page renders Evidently's verdict and drift table
    dom = rendered_dom(out.as_uri(), tmp_path / "chromium")
    shown = re.search(r">Drift is detected for [\d.]+% of columns \((\d+) out of (\d+)\)\.<", dom)
    assert shown, "Evidently's table title is not rendered"
    assert (int(shown.group(1)), int(shown.group(2))) == (evidently["drifted_columns"],
                                                          evidently["columns"])
    cells = re.findall(r'data-testid="mtablecell"[^>]*>([^<]*)</td>', dom)
    assert cells.count("Detected") + cells.count("Not Detected") == 10  # its first page
    assert set(cells[::5]) <= set(verdicts), cells


def test_the_report_reads_the_shared_postgresql_log(tmp_path, tmp_path_factory):
    """Replicas log to one PostgreSQL; the command reads the same place (--log-url)."""
    require_evidently()
    model_dir = trained_credit_dir(tmp_path_factory)
    pg = PostgresServer(tmp_path)
    try:
        pg.start()
        serve_and_replay(model_dir, tmp_path / "log", poorer_applications(100), log_url=pg.url)
        out = tmp_path / "credit.html"
        summary = report(model_dir, out, "--log-url", pg.url)
    finally:
        pg.close()
    assert summary["records"] == 100 and "income" in summary["drift"]["drifted"]
    assert summary["evidently"]["per_column"]["income"]["drifted"] is True
    assert evidently_verdicts(out.read_text())["income"] == "Detected"
    assert not (tmp_path / "log" / "credit").exists()  # nothing went to the SQLite files
