"""Releases under load, through the gateway: two replicas of the real credit service share one
file registry; production is promoted (through the gate) and rolled back five times each while
callers keep asking. No request may fail, every answer's version is the old or the new one, and
once a change has had its poll interval to spread, every answer is the new version's — cached
or not. The cache must not thrash while replicas briefly disagree."""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass

import httpx
import pytest

from kit.procs import start_service
from kit.registry import FileRegistry

try:
    from tests import procs
    from tests.test_gateway_fleet import metric
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs
    from test_gateway_fleet import metric

pytestmark = pytest.mark.integration

POLL_SECONDS = 0.5  # each replica's registry poll, and the gateway's version refresh
SPREAD_SECONDS = 3 * POLL_SECONDS + 1.0  # a change reaches every answer within this
CYCLES = 5
CALLERS = 4
APPLICANTS = [{**procs.APPLICANT, "income": 60_000 + 1_000 * i} for i in range(20)]
PAUSE_SECONDS = 0.03  # between one caller's requests: ~100 requests/s in all
MAX_REQUESTS = 8_000


@dataclass
class Answer:
    sent: float
    status: int
    version: str | None


class Callers:
    """`CALLERS` threads asking the gateway in a loop (cycling through 20 applicants, so most
    answers are cache hits), paced, until stopped or `MAX_REQUESTS` in all."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._ask, args=(i,), daemon=True)
                         for i in range(CALLERS)]

    def __enter__(self) -> Callers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _ask(self, offset: int) -> None:
        with httpx.Client(base_url=self.url, timeout=15) as client:
            i = offset
            while not self._stop.is_set() and len(self.answers) < MAX_REQUESTS:
                sent = time.monotonic()
                try:
                    response = client.post("/v1/credit", json=APPLICANTS[i % len(APPLICANTS)])
                    answer = Answer(sent, response.status_code,
                                    response.json().get("model_version"))
                except httpx.HTTPError as exc:
                    answer = Answer(sent, 0, repr(exc))
                with self._lock:
                    self.answers.append(answer)
                i += CALLERS
                time.sleep(PAUSE_SECONDS)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """A model dir with the session's quick credit model (production) and a second version of
    it (the candidate): equal models, so the gate passes them both ways."""
    source = procs.trained_credit_dir(tmp_path_factory)
    model_dir = tmp_path_factory.mktemp("release-models")
    shutil.copytree(source / "credit", model_dir / "credit")
    registry = FileRegistry(model_dir, "credit")
    old = registry.aliases().aliases["production"]
    procs.copy_as_new_version(model_dir, "credit", "29990101-000000")
    registry.set_alias("candidate", "29990101-000000", actor="test", reason="the new one")
    return model_dir, old, "29990101-000000"


@pytest.fixture(scope="module")
def release_fleet(two_versions, tmp_path_factory):
    model_dir, _, _ = two_versions
    logs = tmp_path_factory.mktemp("release-logs")
    env = {"CREDIT_LOG_LEVEL": "WARNING", "CREDIT_REGISTRY_POLL_SECONDS": str(POLL_SECONDS)}
    started: list[procs.Proc] = []
    try:
        for i in range(2):
            (logs / f"replica{i}").mkdir()
            started.append(start_service("credit", model_dir, logs / f"replica{i}", env=env))
        replicas = list(started)
        upstreams = {name: f"http://127.0.0.1:{procs.free_port()}"
                     for name in ("intent", "ner", "spending", "anomaly")}
        upstreams["credit"] = ",".join(r.url for r in replicas)
        gateway = procs.start_gateway({
            "GATEWAY_UPSTREAMS": json.dumps(upstreams),
            "GATEWAY_VERSION_REFRESH_SECONDS": str(POLL_SECONDS)}, logs)
        started.append(gateway)
        yield gateway, replicas
    finally:
        for proc in reversed(started):
            proc.stop()


def _admin(gateway: procs.Proc, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{gateway.url}/admin/models/credit/{path}", json=body, timeout=120)


def test_promote_and_roll_back_five_times_under_load(release_fleet, two_versions):
    gateway, replicas = release_fleet
    _, old, new = two_versions
    changes: list[tuple[float, float, str]] = []  # asked at, answered at, the new version
    with Callers(gateway.url) as callers:
        time.sleep(1.0)
        for cycle in range(CYCLES):
            for action, version in (("promote", new), ("rollback", old)):
                asked = time.monotonic()
                response = _admin(gateway, action, {"reason": f"cycle {cycle}"})
                assert response.status_code == 200, response.text
                changes.append((asked, time.monotonic(), version))
                time.sleep(SPREAD_SECONDS + 1.0)
        answers = list(callers.answers)

    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:5]}"
    assert {a.version for a in answers} <= {old, new}
    assert 2_000 <= len(answers) < MAX_REQUESTS, len(answers)  # a few thousand, all in
    for i, (_, done, version) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else float("inf")
        settled = [a for a in answers if done + SPREAD_SECONDS <= a.sent < until]
        assert settled, f"no answers after change {i}"
        wrong = [a for a in settled if a.version != version]
        assert not wrong, (f"change {i} to {version}: {len(wrong)} of {len(settled)} answers "
                           f"after {SPREAD_SECONDS} s still came from the other version")

    lags = [max([a.sent - asked for a in answers if asked <= a.sent < (
        changes[i + 1][0] if i + 1 < len(changes) else float("inf")) and a.version != version],
        default=0.0) for i, (asked, _, version) in enumerate(changes)]
    print(f"\n{len(answers)} answers; gate+change took {[round(d - a, 2) for a, d, _ in changes]}"
          f" s; last other-version answer after asking: {[round(x, 2) for x in lags]} s")

    # No thrashing: the cache misses once per applicant per change, not per request.
    misses = metric(httpx.get(f"{gateway.url}/metrics").text,
                    "finfleet_cache_requests_total", model="credit", result="miss")
    assert misses <= 2 * len(APPLICANTS) * (len(changes) + 1), (misses, len(answers))

    history = FileRegistry(two_versions[0], "credit").history()
    moves = [c for c in history if c.alias == "production" and c.actor == "gateway-admin"]
    assert [c.to_version for c in moves] == [new, old] * CYCLES
    assert all(c.gate is not None for c in moves[::2]), "every promotion records its gate"
    for replica in replicas:
        ready = httpx.get(f"{replica.url}/health/ready").json()
        assert ready["version"] == old and ready["release"]["seq"] == history[-1].seq
