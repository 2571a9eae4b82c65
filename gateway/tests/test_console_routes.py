"""The console's jobs and drift pages as the gateway renders them (fake model services, no
browser): each says so when its trainer or monitor is not configured, instead of calling it.
The browser tests are tests/test_console_pages.py."""

from __future__ import annotations

from gateway.app import build_app
from kit.testing import running_client


async def test_the_jobs_page_has_its_form_with_a_trainer_and_a_notice_without(make_settings):
    async with running_client(build_app(make_settings())) as client:
        configured = await client.get("/console/jobs")
    async with running_client(build_app(make_settings(trainer_url=None))) as client:
        bare = await client.get("/console/jobs")
    assert configured.status_code == 200 and 'id="start"' in configured.text
    assert "jobs.js" in configured.text and 'option value="credit"' in configured.text
    assert bare.status_code == 200 and "No trainer is configured" in bare.text
    assert "jobs.js" not in bare.text  # nothing to call


async def test_the_drift_page_knows_whether_a_monitor_is_configured(make_settings):
    async with running_client(build_app(make_settings())) as client:
        configured = await client.get("/console/drift/credit")
        unknown = await client.get("/console/drift/nosuch")
    async with running_client(build_app(make_settings(monitor_url=None))) as client:
        bare = await client.get("/console/drift/credit")
    assert configured.status_code == 200 and 'data-monitor="1"' in configured.text
    assert bare.status_code == 200 and "No drift monitor is configured" in bare.text
    assert 'data-monitor=""' in bare.text  # the script asks only for live quality
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
