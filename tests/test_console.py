"""The web console end to end: headless Debian chromium (Playwright's Python package, no
browser download) on a real fleet of every model service, the trainer and two gateways in
front (admin key off, and on). Screenshots go to $FINFLEET_CONSOLE_SCREENSHOTS when set."""

from __future__ import annotations

import contextlib
import os
import shutil
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
SHOTS = os.environ.get("FINFLEET_CONSOLE_SCREENSHOTS")

if not Path(CHROMIUM).exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """name → URL for every service, plus "open" (no keys) and "keyed" (admin key) gateways."""
    from gateway.app import build_app
    from gateway.settings import GatewaySettings

    if not (REPO_ROOT / "models" / "credit").is_dir():
        pytest.skip("no trained models: run `make models`")
    root = tmp_path_factory.mktemp("console")
    shutil.copytree(REPO_ROOT / "models", root / "models")
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(ServedInThread(service_app(name, root / "models")))
                for name in load_catalog().names}
        for kind, digests in (("open", []), ("keyed", [hash_key(ADMIN_KEY)])):
            upstreams = {n: urls[n] for n in load_catalog().names}
            gateway = build_app(GatewaySettings(upstreams=upstreams, log_level="WARNING",
                                                version_refresh_seconds=1,
                                                admin_key_sha256=digests))
            urls[kind] = stack.enter_context(ServedInThread(gateway))
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


def test_a_promote_click_changes_production_on_the_fleet_page(fleet, page):
    """Keys on: the page asks for the admin key once and keeps it for the session."""
    version = "20991231-000000"
    procs.copy_as_new_version(Path(fleet["models"]), "credit", version)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    put = httpx.put(f"{fleet['keyed']}/admin/models/credit/aliases/candidate", headers=admin,
                    json={"version": version, "reason": "console test"})
    assert put.status_code == 200, put.text
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept(ADMIN_KEY)))
    page.goto(f"{fleet['keyed']}/console/releases/credit")
    page.wait_for_selector(f"#candidate h2:has-text('{version}')")
    page.check("#force")
    page.click("#promote")
    page.wait_for_selector(f"#production h2:has-text('{version}')")
    shot(page, "releases")
    page.goto(f"{fleet['keyed']}/console")
    page.wait_for_selector(f"tr[data-model=credit] td.production:has-text('{version}')",
                           timeout=15000)
    assert len(asked) == 1  # asked once, kept in sessionStorage
    assert all("401" in error for error in page.errors), page.errors  # only the key's ask
