"""The web console end to end: headless Debian chromium (Playwright's Python package, no
browser download) on a real fleet of every model service, the trainer and two gateways in
front (admin key off, and on). Screenshots go to $FINFLEET_CONSOLE_SCREENSHOTS when set."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from gateway.auth import hash_key
from kit.catalog import example_of, load_catalog
from kit.settings import REPO_ROOT

try:
    from tests import procs
    from tests.servers import ServedInThread, service_app
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs
    from servers import ServedInThread, service_app

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
ADMIN_KEY = "console-admin-key"
CALLER_KEY = "console-caller-key"
SHOTS = os.environ.get("FINFLEET_CONSOLE_SCREENSHOTS")

if not Path(CHROMIUM).exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """name → URL for every service, plus "open" (no keys), "keyed" (admin key) and "both"
    (admin and API keys) gateways."""
    from gateway.app import build_app
    from gateway.settings import GatewaySettings

    if not (REPO_ROOT / "models" / "credit").is_dir():
        pytest.skip("no trained models: run `make models`")
    root = tmp_path_factory.mktemp("console")
    shutil.copytree(REPO_ROOT / "models", root / "models")
    with contextlib.ExitStack() as stack:
        extra = {"credit": {"serve_candidate": True, "registry_poll_seconds": 0.5}}
        urls = {name: stack.enter_context(ServedInThread(
                    service_app(name, root / "models", **extra.get(name, {}))))
                for name in load_catalog().names}
        # the open gateway takes 4 instances a request: a 5-row CSV goes in two
        for kind, digests, most in (("open", [], 4), ("keyed", [hash_key(ADMIN_KEY)], 256)):
            upstreams = {n: urls[n] for n in load_catalog().names}
            gateway = build_app(GatewaySettings(upstreams=upstreams, log_level="WARNING",
                                                version_refresh_seconds=1,
                                                admin_key_sha256=digests, max_instances=most))
            urls[kind] = stack.enter_context(ServedInThread(gateway))
        both = build_app(GatewaySettings(upstreams=upstreams, log_level="WARNING",
                                         admin_key_sha256=[hash_key(ADMIN_KEY)],
                                         api_key_sha256=[hash_key(CALLER_KEY)]))
        urls["both"] = stack.enter_context(ServedInThread(both))
        urls["models"] = str(root / "models")
        yield urls


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors and failed requests."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    opened = context.new_page()
    opened.errors = []
    opened.on("console", lambda msg: msg.type == "error" and opened.errors.append(msg.text))
    opened.on("pageerror", lambda exc: opened.errors.append(str(exc)))
    yield opened
    context.close()


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=True)


def test_the_fleet_page_shows_every_model_with_live_numbers(fleet, page):
    for name in load_catalog().names:  # some traffic for the numbers
        httpx.post(f"{fleet['open']}/v1/{name}", json=example_of(name))
    page.goto(f"{fleet['open']}/console")
    rows = page.locator("#fleet tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(load_catalog().names)
    assert "ready" in page.locator("#fleet").inner_text()
    page.wait_for_timeout(3500)  # one refresh: req/s between two polls
    shot(page, "fleet")
    assert page.errors == []


@pytest.mark.parametrize("name,drawn", [("intent", "svg"), ("ner", "mark"), ("spending", "svg"),
                                        ("credit", "svg"), ("anomaly", "svg")])
def test_a_playground_call_draws_the_answer(fleet, page, name, drawn):
    page.goto(f"{fleet['open']}/console/playground/{name}")
    page.click("#send")
    page.wait_for_selector(f"#answer[data-drawn={name}] {drawn}")
    assert "answered by" in page.locator("#answer").inner_text()
    shot(page, f"playground-{name}")
    assert page.errors == []


def test_bad_input_shows_the_problem_readably(fleet, page):
    page.goto(f"{fleet['open']}/console/playground/credit")
    page.fill("input[name=age]", "5")
    page.click("#send")
    page.wait_for_selector("#error:not([hidden])")
    text = page.locator("#error").inner_text()
    assert "422" in text and "age" in text
    shot(page, "playground-error")


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_batch_csv_gets_a_table_of_answers_and_a_download(fleet, page, tmp_path):
    rows = [{**example_of("credit"), "income": 40_000 + 20_000 * i} for i in range(5)]
    page.goto(f"{fleet['open']}/console/playground/credit")
    page.set_input_files("#csv", str(_write_csv(tmp_path / "five.csv", rows)))
    page.wait_for_selector("#batch[data-answered='5']")
    assert page.locator("#answers tbody tr").count() == 5
    assert "5 rows in 2 request(s)" in page.locator("#batch-status").inner_text()
    assert "probability_of_default" in page.locator("#answers thead").inner_text()
    with page.expect_download() as info:
        page.click("#download")
    with open(info.value.path(), newline="") as got:
        answers = list(csv.DictReader(got))
    assert len(answers) == 5
    assert [float(a["income"]) for a in answers] == [r["income"] for r in rows]
    assert all(a["band"] and 0 <= float(a["probability_of_default"]) <= 1 for a in answers)
    shot(page, "playground-batch")
    assert page.errors == []


def test_a_batch_csv_with_a_bad_row_shows_the_problem_readably(fleet, page, tmp_path):
    rows = [{**example_of("credit"), "income": 50_000 + i} for i in range(7)]
    rows[5]["age"] = 5  # row 6, in the second request (rows 5–7)
    page.goto(f"{fleet['open']}/console/playground/credit")
    page.set_input_files("#csv", str(_write_csv(tmp_path / "bad.csv", rows)))
    page.wait_for_selector("#error:not([hidden])")
    text = page.locator("#error").inner_text()
    assert "422" in text and "row 6: age" in text and "rows 5–7" in text, text
    assert page.locator("#answers tbody tr").count() == 4  # the first request's answers
    shot(page, "playground-batch-error")


def _nested_rows(name: str) -> list[dict]:
    """Spending's history as JSON in its cell; anomaly's transaction as dotted columns."""
    example = example_of(name)
    if name == "spending":
        return [{**example, "history": json.dumps(example["history"][:12 + i])} for i in range(2)]
    flat = {"user_id": example["user_id"]}
    flat.update({f"transaction.{k}": v for k, v in example["transaction"].items()})
    return [{**flat, "transaction.amount": 100 + 40_000 * i} for i in range(2)]


@pytest.mark.parametrize("name", ["spending", "anomaly"])
def test_a_batch_csv_of_nested_inputs(fleet, page, tmp_path, name):
    page.goto(f"{fleet['open']}/console/playground/{name}")
    page.set_input_files("#csv", str(_write_csv(tmp_path / f"{name}.csv", _nested_rows(name))))
    page.wait_for_selector("#batch[data-answered='2']")
    assert page.locator("#answers tbody tr").count() == 2
    assert page.errors == []


CANDIDATE = "20991231-000000"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _wait(check, what: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def test_the_releases_page_shows_shadow_agreement_and_latency(fleet, page):
    """A candidate shadowing all of credit's traffic: the page shows the policy, the share of
    answers that agree and each version's latency."""
    procs.copy_as_new_version(Path(fleet["models"]), "credit", CANDIDATE)
    gateway = fleet["keyed"]
    put = httpx.put(f"{gateway}/admin/models/credit/aliases/candidate", headers=ADMIN,
                    json={"version": CANDIDATE, "reason": "console test"})
    assert put.status_code == 200, put.text

    def traffic():
        return httpx.get(f"{gateway}/admin/models/credit/traffic", headers=ADMIN).json()

    _wait(lambda: traffic()["policy"]["candidate_version"] == CANDIDATE, "candidate loaded")
    policy = httpx.put(f"{gateway}/admin/models/credit/traffic", headers=ADMIN,
                       json={"canary_percent": 0, "shadow_percent": 100})
    assert policy.status_code == 200, policy.text
    for i in range(20):  # distinct applicants: a cached answer is not shadowed
        answer = httpx.post(f"{gateway}/v1/credit",
                            json={**example_of("credit"), "income": 60_000 + 1000 * i})
        assert answer.status_code == 200, answer.text
    _wait(lambda: traffic()["comparison"]["pairs"]["all_time"] >= 20, "20 shadow pairs")
    page.on("dialog", lambda dialog: dialog.accept(ADMIN_KEY))
    page.goto(f"{gateway}/console/releases/credit")
    page.wait_for_selector("#agreement tr[data-measure=band]:has-text('100.0% agree')")
    assert "shadow 100%" in page.locator("#traffic .policy").inner_text()
    latency = page.locator("#latency").inner_text()
    assert "shadow" in latency and "ms (n=20)" in latency, latency


def test_a_promote_click_shows_the_gate_and_changes_production(fleet, page):
    """Keys on: the page asks for the admin key once and keeps it for the session. The
    candidate (a copy of production) passes the gate; its table is drawn."""
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept(ADMIN_KEY)))
    page.goto(f"{fleet['keyed']}/console/releases/credit")
    page.wait_for_selector(f"#candidate:has-text('{CANDIDATE}')")
    page.click("#promote")
    page.wait_for_selector(f"#production:has-text('{CANDIDATE}')", timeout=60000)
    gate = page.locator("#gate .gate[data-passed=true]")
    gate.wait_for()
    rows = gate.locator("tbody tr")
    assert rows.count() >= 4  # credit: AUC, Brier, approval ratio per attribute; per set
    table = gate.inner_text()
    assert "PASSED" in table and "AUC" in table and "holdout" in table, table
    assert rows.locator("td:nth-child(7):has-text('fail')").count() == 0
    shot(page, "releases")
    page.goto(f"{fleet['keyed']}/console")
    page.wait_for_selector(f"tr[data-model=credit] td.production:has-text('{CANDIDATE}')",
                           timeout=15000)
    assert len(asked) == 1  # asked once, kept in sessionStorage
    assert all("401" in error for error in page.errors), page.errors  # only the key's ask


def test_with_both_kinds_of_key_each_is_asked_once_and_forgotten_together(fleet, page):
    """API keys on as well: /v1 and the fleet's stats take the caller's key, /admin the
    admin key; each asked on its first 401, kept across pages; "forget keys" drops both."""
    asked = []

    def answer(dialog):
        asked.append("admin" if dialog.message.startswith("Admin") else "caller")
        dialog.accept(ADMIN_KEY if asked[-1] == "admin" else CALLER_KEY)

    page.on("dialog", answer)
    page.goto(f"{fleet['both']}/console")
    page.wait_for_selector("tr[data-model=credit] td.production")
    assert asked == ["caller"]  # /v1/models and /console/api/stats, in parallel: asked once
    page.goto(f"{fleet['both']}/console/releases/credit")
    page.wait_for_selector("#versions tbody tr")
    page.wait_for_selector("#agreement")
    page.goto(f"{fleet['both']}/console/playground/intent")
    page.click("#send")
    page.wait_for_selector("#answer[data-drawn=intent] svg")
    assert asked == ["caller", "admin"]
    page.click("#forget-keys")
    stored = page.evaluate("[sessionStorage.getItem('finfleet-admin-key'), "
                           "sessionStorage.getItem('finfleet-caller-key')]")
    assert stored == [None, None]
    page.click("#send")
    page.wait_for_selector("#answer[data-drawn=intent] svg")
    assert asked == ["caller", "admin", "caller"]
    assert all("401" in error for error in page.errors), page.errors
