"""The console's jobs page and drift & quality page end to end, in headless Debian chromium
(tests/test_console.py's browser and page fixtures) on one module-scoped real fleet: the credit
service logging to SQLite, the trainer (each job a real training process), the drift monitor
reading the log, and two gateways in front: admin key on with trainer and monitor, and keys off
with neither (the pages say so). Screenshots go to $FINFLEET_CONSOLE_SCREENSHOTS when set."""

from __future__ import annotations

import contextlib
import shutil

import httpx
import pytest

from gateway.auth import hash_key
from kit.drift import WARNING
from kit.settings import REPO_ROOT

try:
    from tests.servers import ServedInThread, service_app
    from tests.test_console import browser, page, shot
    from tests.test_monitor_drift import applications
    from tests.test_predlog_shared import eventually
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    from servers import ServedInThread, service_app
    from test_console import browser, page, shot  # noqa: F401
    from test_monitor_drift import applications
    from test_predlog_shared import eventually

pytestmark = pytest.mark.integration
ADMIN_KEY = "console-pages-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
WINDOW = 200  # the monitor scores the newest 200 records
JOB_SECONDS = 240  # a quick credit job on 300 rows: ~12 s alone, far more on a busy machine


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Gateways: "keyed" (an admin key, the trainer, the monitor), "open" (keys off, the
    trainer, no monitor) and "bare" (keys off, neither); "credit": the service."""
    from gateway.app import build_app as build_gateway
    from gateway.settings import GatewaySettings
    from monitor.app import build_app as build_monitor
    from monitor.settings import MonitorSettings
    from trainer.app import build_app as build_trainer
    from trainer.settings import TrainerSettings

    if not (REPO_ROOT / "models" / "credit").is_dir():
        pytest.skip("no trained models: run `make models`")
    root = tmp_path_factory.mktemp("console-pages")
    models, logs = root / "models", root / "logs"
    shutil.copytree(REPO_ROOT / "models" / "credit", models / "credit")
    with contextlib.ExitStack() as stack:
        credit = stack.enter_context(ServedInThread(service_app(
            "credit", models, log_dir=logs, log_flush_seconds=0.2, quality_seconds=0.5,
            registry_poll_seconds=0.5)))
        trainer = stack.enter_context(ServedInThread(build_trainer(TrainerSettings(
            model_dir=models, jobs_dir=root / "jobs", data_roots=[root], log_level="WARNING"))))
        monitor = stack.enter_context(ServedInThread(build_monitor(MonitorSettings(
            models=["credit"], model_dir=models, log_dir=logs, interval_seconds=0.5,
            window_max=WINDOW, window_min=100, log_level="WARNING"))))
        urls = {"credit": credit}
        for kind, digests, trainer_url, monitor_url in (
                ("keyed", [hash_key(ADMIN_KEY)], trainer, monitor), ("open", [], trainer, None),
                ("bare", [], None, None)):
            gateway = build_gateway(GatewaySettings(
                upstreams={"credit": credit}, log_level="WARNING", version_refresh_seconds=1,
                admin_key_sha256=digests, trainer_url=trainer_url, monitor_url=monitor_url))
            urls[kind] = stack.enter_context(ServedInThread(gateway))
        yield urls


def with_key(page) -> list[str]:
    """Answer the console's key prompt with the admin key; the prompts asked, for counting."""
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept(ADMIN_KEY)))
    return asked


def loans_csv(tmp_path, rows: int = 300):
    from services.credit.data import generate_applications

    dataset = generate_applications(rows, seed=11)
    frame = dataset.frame.assign(defaulted=dataset.target)
    path = tmp_path / "loans.csv"
    frame.to_csv(path, index=False)
    return path


def start_from_the_page(page, csv) -> None:
    page.select_option("#start select[name=model]", "credit")
    page.set_input_files("#start input[name=data]", str(csv))
    page.fill("#start input[name=target]", "defaulted")
    page.click("#submit")


def test_a_job_started_from_the_page_reaches_done_and_opens_its_candidate(fleet, page,
                                                                          tmp_path):
    asked = with_key(page)
    page.goto(f"{fleet['keyed']}/console/jobs")
    start_from_the_page(page, loans_csv(tmp_path))
    page.wait_for_selector("#job[data-state=running]", timeout=JOB_SECONDS * 1000)
    page.wait_for_selector("#job-log:not(:empty)", timeout=JOB_SECONDS * 1000)  # live log
    page.wait_for_selector("#job[data-state=succeeded]", timeout=JOB_SECONDS * 1000)
    assert page.locator("#job-state").inner_text() == "done"
    assert page.locator("#job-bar").get_attribute("style") == "width: 100%;"
    assert "saved" in page.locator("#job-log").inner_text()
    assert "holdout.auc" in page.locator("#job-metrics").inner_text()
    (job,) = httpx.get(f"{fleet['keyed']}/admin/jobs", headers=ADMIN).json()["jobs"]
    page.wait_for_selector(f"#jobs tr[data-job='{job['id']}'] td.state:has-text('done')")
    shot(page, "jobs")
    page.click("#open-candidate")
    page.wait_for_url("**/console/releases/credit")
    page.wait_for_selector(f"th#candidate:has-text('{job['version']}')")
    assert len(asked) == 1  # asked once, kept for the session
    assert all("401" in error for error in page.errors), page.errors  # only the key's ask


def test_a_running_job_is_cancelled_from_the_page_with_keys_off(fleet, page, tmp_path):
    page.goto(f"{fleet['open']}/console/jobs")
    start_from_the_page(page, loans_csv(tmp_path))
    page.wait_for_selector("#job[data-state=running] #cancel:visible",
                           timeout=JOB_SECONDS * 1000)
    page.click("#cancel")
    page.wait_for_selector("#job[data-state=cancelled]", timeout=60000)
    assert page.locator("#job-state").inner_text() == "cancelled"
    assert page.locator("#job-error").inner_text() == "cancelled"  # the job's error, shown
    assert page.locator("#open-candidate").is_hidden()
    assert page.errors == []  # keys off: nothing asked, nothing refused


def test_a_file_the_trainer_refuses_is_shown_readably(fleet, page, tmp_path):
    with_key(page)
    page.goto(f"{fleet['keyed']}/console/jobs")
    wrong = tmp_path / "loans.exe"
    wrong.write_bytes(b"MZ")
    page.set_input_files("#start input[name=data]", str(wrong))
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])")
    text = page.locator("#error").inner_text()
    assert "422" in text and "data" in text, text


def feed(gateway: str, instances: list[dict]) -> list[str]:
    """Predictions through the gateway (never its cache); their prediction ids."""
    ids: list[str] = []
    for k in range(0, len(instances), 50):
        reply = httpx.post(f"{gateway}/v1/models/credit:predict", timeout=30,
                           headers={"Cache-Control": "no-cache"},
                           json={"instances": instances[k:k + 50]})
        assert reply.status_code == 200, reply.text
        ids += reply.json()["prediction_ids"]
    return ids


def history(gateway: str) -> list[float]:
    reply = httpx.get(f"{gateway}/v1/models/credit/drift", timeout=10).json()
    return [point["score"] for v in reply["versions"] for point in v["history"]]


def test_the_drift_page_draws_scores_over_time_and_live_quality(fleet, page):
    gateway = fleet["keyed"]
    ids = feed(gateway, applications(shifted=False)[:WINDOW])
    eventually(lambda: bool(history(gateway)), 60, "scored normal window")
    feed(gateway, applications(shifted=True)[:WINDOW])
    eventually(lambda: max(history(gateway)) > WARNING, 60, "score over the warning")
    labels = [{"prediction_id": pid, "label": k % 3 == 0} for k, pid in enumerate(ids[:60])]
    stored = httpx.post(f"{gateway}/v1/models/credit/outcomes", json={"outcomes": labels})
    assert stored.json()["stored"] == 60, stored.text

    page.goto(f"{gateway}/console/drift/credit")
    page.wait_for_selector("#drift-chart svg polyline.score")
    assert page.locator("#drift-chart line.threshold").count() == 2
    assert int(page.locator("#drift-chart").get_attribute("data-points")) >= 2
    assert "income" in page.locator("#features-title").inner_text()
    page.wait_for_selector("#quality-table td:has-text('60')", timeout=20000)
    assert "auc" in page.locator("#quality-table").inner_text()
    shot(page, "drift")
    assert page.errors == []


def test_without_trainer_or_monitor_the_pages_say_so(fleet, page):
    page.goto(f"{fleet['bare']}/console/jobs")
    assert "No trainer is configured" in page.locator("#no-trainer").inner_text()
    page.goto(f"{fleet['open']}/console/drift/credit")
    assert "No drift monitor is configured" in page.locator("#no-monitor").inner_text()
    page.wait_for_selector("#quality p, #quality table")  # live quality still answers
    assert page.errors == []
