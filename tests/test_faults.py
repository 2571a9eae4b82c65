"""The fault suite (issue 17): real processes on 127.0.0.1, broken the way production breaks
them, each scenario bounded in time and asserting what callers rely on.

- kill -9 of a model under load: the other model's callers see no error, the dead model's get a
  fast 503 problem, and once restarted on its port it answers again within the circuit's reset.
- SIGSTOP of a model: its callers get a 504 (a 503 once its circuit opens) within about the read
  timeout, never a hang; the other models keep answering; after SIGCONT it answers again.
- Redis killed, restarted and filled: the anomaly service answers 503 problems (never a 500) and
  recovers; the gateway's Redis cache degrades to no cache; other models keep answering.
- SIGTERM with requests in flight: a model service and the gateway answer every request they
  hold, whole, and exit 0 within their graceful-shutdown time.
- 2,000 idle connections: past max_connections new requests get a fast 503, request_timeout cuts
  the idle ones, service resumes and the gateway's file descriptors come back to the baseline.

Every process a test starts is stopped by the `fleet` fixture, a SIGSTOPped one included. The
figures each scenario measures are printed (`pytest -s`) and quoted in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from kit import procs as kit_procs
from kit.catalog import load_catalog, value_at, with_value_at
from kit.procs import Proc
from kit.settings import REPO_ROOT

try:
    from tests import procs
except ImportError:  # tests/ is not a package: pytest puts this folder on sys.path
    import procs

pytestmark = pytest.mark.integration

MODELS = REPO_ROOT / "models"
CATALOG = load_catalog()
PROBLEM = "application/problem+json"
NO_CACHE = {"Cache-Control": "no-cache"}  # every request reaches the model behind the gateway
RESET = 1.0  # GATEWAY_CIRCUIT_RESET_SECONDS in these tests
GRACE = 10.0  # the servers' graceful-shutdown time (kit.serve: timeout_graceful_shutdown)


def example(name: str) -> dict[str, Any]:
    return dict(CATALOG.service(name).example)


def varied(name: str, i: int) -> dict[str, Any]:
    """The table's example with its numeric `vary` field moved by `i`: a distinct instance."""
    row = CATALOG.service(name)
    return with_value_at(row.example, row.vary, value_at(row.example, row.vary) + i)


def report(scenario: str, **figures: Any) -> None:
    print(f"\n[fault figures] {scenario}: {json.dumps(figures)}")


class Fleet:
    """Every process one test starts; `close()` stops them all (SIGCONT first, for a stopped
    one). Each start logs to its own folder, so a restart keeps the first run's log."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Proc] = []

    def _logs(self, name: str) -> Path:
        return self.log_dir / f"{len(self.started):02d}-{name}"

    def service(self, name: str, *, port: int | None = None, wait: bool = True,
                **env: Any) -> Proc:
        """A model service on the real models; `env` without its prefix (REDIS_URL=...)."""
        prefix = CATALOG.service(name).env_prefix
        settings = {f"{prefix}LOG_LEVEL": "WARNING", **{prefix + k: str(v) for k, v in env.items()}}
        proc = kit_procs.start_service(name, MODELS, self._logs(name), port=port, env=settings,
                                       wait=False)
        self.started.append(proc)
        if wait:
            kit_procs.wait_ready(proc, timeout_s=90)
        return proc

    def services(self, *names: str) -> list[Proc]:
        """Several services loading at once, each waited for."""
        started = [self.service(name, wait=False) for name in names]
        for proc in started:
            kit_procs.wait_ready(proc, timeout_s=90)
        return started

    def gateway(self, upstreams: dict[str, Proc], **env: Any) -> Proc:
        """A gateway process in front of `upstreams`; `env` without GATEWAY_ (dicts as JSON)."""
        settings = {"GATEWAY_LOG_LEVEL": "WARNING",
                    "GATEWAY_UPSTREAMS": json.dumps({n: p.url for n, p in upstreams.items()}),
                    **{f"GATEWAY_{k}": v if isinstance(v, str) else json.dumps(v)
                       for k, v in env.items()}}
        log_dir = self._logs("gateway")
        port = kit_procs.free_port()
        proc = kit_procs.start_gateway(settings, log_dir, port=port, wait=False)
        self.started.append(proc)
        kit_procs.wait_ready(proc, timeout_s=60)
        return proc

    def redis(self, *args: str, port: int | None = None) -> Proc:
        """A throwaway redis-server (`kit.procs.start_redis`), or one on a given `port` (the
        restart of a killed one: same URL, empty)."""
        binary = procs.require_binary("redis-server")
        log_dir = self._logs("redis")
        log_dir.mkdir(parents=True)
        if port is None:
            proc = kit_procs.start_redis(log_dir, binary, *args)
            self.started.append(proc)
            return proc
        proc = kit_procs.start("redis", [binary, "--port", str(port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no",
                                         "--dir", str(log_dir), *args],
                               log_dir / "redis.log", url=f"redis://127.0.0.1:{port}/0")
        self.started.append(proc)
        kit_procs.wait_for_port(proc, port)
        return proc

    def close(self) -> None:
        for proc in reversed(self.started):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.popen.pid, signal.SIGCONT)
            proc.stop()


@pytest.fixture
def fleet(tmp_path):
    started = Fleet(tmp_path)
    try:
        yield started
    finally:
        started.close()


def port_of(proc: Proc) -> int:
    port = urlsplit(proc.url).port
    assert port is not None, proc.url
    return port


def signal_group(proc: Proc, sig: int) -> None:
    os.killpg(proc.popen.pid, sig)


def kill_9(proc: Proc) -> None:
    signal_group(proc, signal.SIGKILL)
    proc.popen.wait(timeout=10)


def fd_count(proc: Proc) -> int:
    return len(os.listdir(f"/proc/{proc.popen.pid}/fd"))


@dataclass
class Answer:
    """One request as the caller saw it (monotonic seconds)."""

    sent: float
    took: float
    status: int | None  # None: no HTTP answer at all (refused, reset, or the client's timeout)
    content_type: str
    body: str

    @property
    def done(self) -> float:
        return self.sent + self.took

    @property
    def is_problem(self) -> bool:
        return self.content_type.split(";")[0].strip() == PROBLEM


def describe(answers: list[Answer], limit: int = 8) -> str:
    """The distinct (status, body) pairs among `answers`, for assertion messages."""
    seen: dict[tuple, tuple[int, float]] = {}
    for a in answers:
        key = (a.status, a.content_type, a.body[:200])
        count, took = seen.get(key, (0, 0.0))
        seen[key] = (count + 1, max(took, a.took))
    return "\n".join(f"  {count}x status={status} ({ctype}, slowest {took:.3f}s): {body}"
                     for (status, ctype, body), (count, took) in list(seen.items())[:limit])


async def send(client: httpx.AsyncClient, path: str, body: Any,
               headers: dict[str, str] | None = None) -> Answer:
    sent = time.monotonic()
    try:
        response = await client.post(path, json=body, headers=headers or NO_CACHE)
    except httpx.HTTPError as exc:
        return Answer(sent, time.monotonic() - sent, None, "", repr(exc))
    return Answer(sent, time.monotonic() - sent, response.status_code,
                  response.headers.get("content-type", ""), response.text)


async def hammer(client: httpx.AsyncClient, path: str, body: Any, stop: asyncio.Event,
                 answers: list[Answer], pause: float = 0.02) -> None:
    """One caller sending `body` to `path` in a loop until `stop` (each request bounded by the
    client's timeout)."""
    while not stop.is_set():
        answers.append(await send(client, path, body))
        await asyncio.sleep(pause)


@contextlib.asynccontextmanager
async def under_load(client: httpx.AsyncClient, *names: str):
    """One caller per model sending its example to `/v1/<name>` for as long as the block runs;
    yields their answers by model name."""
    answers: dict[str, list[Answer]] = {name: [] for name in names}
    stop = asyncio.Event()
    loops = [asyncio.create_task(hammer(client, f"/v1/{name}", example(name), stop,
                                        answers[name])) for name in names]
    try:
        yield answers
    finally:
        stop.set()
        await asyncio.gather(*loops)


async def first_answer(answers: list[Answer], *, sent_after: float, status: int,
                       within: float) -> Answer | None:
    """The first answer with `status` to a request sent after `sent_after`, waiting at most
    `within` seconds from `sent_after` for it."""
    deadline = sent_after + within
    while True:
        found = [a for a in answers if a.sent >= sent_after and a.status == status]
        if found:
            return min(found, key=lambda a: a.done)
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.05)


async def test_kill_9_of_a_model_under_load_fails_it_alone_and_fast(fleet):
    """SIGKILL ner while callers load credit and ner through the gateway."""
    credit, ner = fleet.services("credit", "ner")
    gateway = fleet.gateway({"credit": credit, "ner": ner}, READ_TIMEOUT=5,
                            CIRCUIT_RESET_SECONDS=RESET)
    read_timeout = 5.0
    async with (httpx.AsyncClient(base_url=gateway.url, timeout=10) as client,
                under_load(client, "credit", "ner") as answers):
        credit_answers, ner_answers = answers["credit"], answers["ner"]
        await asyncio.sleep(1.0)
        killed = time.monotonic()
        kill_9(ner)
        await asyncio.sleep(2.0)
        restarted = time.monotonic()
        ner = await asyncio.to_thread(fleet.service, "ner", port=port_of(ner))
        ready = time.monotonic()
        recovered = await first_answer(ner_answers, sent_after=ready, status=200,
                                       within=RESET + 5)
        await asyncio.sleep(0.5)

    bad_credit = [a for a in credit_answers if a.status != 200]
    assert len(credit_answers) >= 20 and not bad_credit, \
        f"credit through the gateway erred while ner died:\n{describe(bad_credit)}"
    before = [a for a in ner_answers if a.done < killed]
    assert before and all(a.status == 200 for a in before), describe(before)
    in_flight = [a for a in ner_answers if a.sent <= killed <= a.done]
    assert all(a.status == 200 or (a.status in (502, 503) and a.is_problem)
               for a in in_flight), describe(in_flight)
    # down: answered before the new process was started (once it runs it may answer before
    # the fleet's readiness poll sees it, and the gateway's half-open probe may let it in)
    down = [a for a in ner_answers if killed < a.sent and a.done < restarted]
    assert len(down) >= 5, describe(ner_answers)
    odd = [a for a in down if not (a.status == 503 and a.is_problem)]
    assert not odd, f"ner down: every answer a 503 problem+json\n{describe(odd)}"
    slowest = max(a.took for a in down)
    assert slowest < read_timeout / 4, f"a dead model's 503 took {slowest:.3f}s"
    assert recovered is not None, (f"ner not answering 200 through the gateway {RESET + 5}s "
                                   f"after its restart was ready:\n{describe(ner_answers[-5:])}")
    after = [a for a in ner_answers if a.sent >= recovered.done]
    assert after and all(a.status == 200 for a in after), describe(after)
    first_503 = min((a for a in down), key=lambda a: a.done)
    report("kill -9 ner", credit_requests=len(credit_answers), credit_errors=len(bad_credit),
           ner_503s=len(down), kill_to_first_503_s=round(first_503.done - killed, 3),
           slowest_503_s=round(slowest, 3),
           median_503_s=round(sorted(a.took for a in down)[len(down) // 2], 4),
           in_flight_at_kill=[a.status for a in in_flight],
           ner_restart_to_ready_s=round(ready - restarted, 2),
           ready_to_gateway_200_s=round(recovered.done - ready, 3))


async def test_sigstop_of_a_model_times_out_its_callers_and_sigcont_heals_it(fleet):
    """SIGSTOP credit (read timeout 0.5 s) while callers load credit and ner; then SIGCONT."""
    read_timeout = 0.5
    credit, ner = fleet.services("credit", "ner")
    gateway = fleet.gateway({"credit": credit, "ner": ner}, READ_TIMEOUT=read_timeout,
                            READ_TIMEOUTS={"ner": 5}, CIRCUIT_FAILURES=3,
                            CIRCUIT_RESET_SECONDS=RESET)
    async with (httpx.AsyncClient(base_url=gateway.url, timeout=10) as client,
                under_load(client, "credit", "ner") as answers):
        credit_answers, ner_answers = answers["credit"], answers["ner"]
        await asyncio.sleep(1.0)
        stopped = time.monotonic()
        signal_group(credit, signal.SIGSTOP)
        await asyncio.sleep(3.0)
        resumed = time.monotonic()
        signal_group(credit, signal.SIGCONT)
        recovered = await first_answer(credit_answers, sent_after=resumed, status=200,
                                       within=RESET + 5)
        await asyncio.sleep(0.5)

    bad_ner = [a for a in ner_answers if a.status != 200]
    assert len(ner_answers) >= 20 and not bad_ner, \
        f"ner erred while credit was stopped:\n{describe(bad_ner)}"
    odd = [a for a in credit_answers
           if a.status != 200 and not (a.status in (503, 504) and a.is_problem)]
    assert not odd, f"credit: only 200, or 503/504 problem+json\n{describe(odd)}"
    before = [a for a in credit_answers if a.done < stopped]
    assert before and all(a.status == 200 for a in before), describe(before)
    frozen = [a for a in credit_answers if stopped < a.sent and a.done < resumed]
    statuses = {a.status for a in frozen}
    assert statuses == {503, 504}, \
        f"a stopped credit: 504s, then 503s once its circuit opened\n{describe(frozen)}"
    slowest = max(a.took for a in frozen)
    assert slowest < 4 * read_timeout, f"a stopped model's caller waited {slowest:.3f}s"
    assert recovered is not None, (f"credit not answering 200 {RESET + 5}s after SIGCONT:\n"
                                   f"{describe(credit_answers[-5:])}")
    after = [a for a in credit_answers if a.sent >= recovered.done]
    assert after and all(a.status == 200 for a in after), describe(after)
    timeouts = [a for a in frozen if a.status == 504]
    fast = [a for a in frozen if a.status == 503]
    report("SIGSTOP credit", frozen_requests=len(frozen), timeouts_504=len(timeouts),
           circuit_open_503=len(fast),
           slowest_504_s=round(max(a.took for a in timeouts), 3),
           median_503_s=round(sorted(a.took for a in fast)[len(fast) // 2], 4),
           stop_to_first_fast_503_s=round(min(a.done for a in fast) - stopped, 3),
           ner_requests=len(ner_answers), ner_errors=len(bad_ner),
           sigcont_to_200_s=round(recovered.done - resumed, 3))


def _gateway_cache_keys(redis_url: str) -> list[bytes]:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        return client.keys("finfleet:gw:*")
    finally:
        client.close()


def test_redis_killed_restarted_and_filled(fleet):
    """Anomaly's store and the gateway's cache in one redis-server: killed, restarted on its
    port, restarted with `--maxmemory 1mb --maxmemory-policy noeviction` and filled."""
    import redis as redis_lib

    store = fleet.redis()
    anomaly = fleet.service("anomaly", wait=False, REDIS_URL=store.url)
    credit = fleet.service("credit", wait=False)
    kit_procs.wait_ready(anomaly, timeout_s=90)
    kit_procs.wait_ready(credit, timeout_s=90)
    gateway = fleet.gateway({"anomaly": anomaly, "credit": credit}, REDIS_URL=store.url,
                            CIRCUIT_RESET_SECONDS=RESET)
    figures: dict[str, Any] = {}
    counter = iter(range(1, 10_000))

    with httpx.Client(timeout=10) as client:
        def score() -> httpx.Response:  # the anomaly service itself, a new transaction each
            body = {"instances": [varied("anomaly", next(counter))]}
            return client.post(f"{anomaly.url}/v1/models/anomaly:predict", json=body)

        def through(name: str, instance: dict) -> httpx.Response:
            return client.post(f"{gateway.url}/v1/{name}", json=instance)

        def all_problems(responses: list[httpx.Response], status: int) -> str | None:
            wrong = [(r.status_code, r.headers.get("content-type"), r.text[:200])
                     for r in responses if r.status_code != status
                     or r.headers.get("content-type") != PROBLEM]
            return f"expected {status} problem+json, got {wrong}" if wrong else None

        def poll(ask, within: float) -> float | None:
            started = time.monotonic()
            while time.monotonic() - started < within:
                if ask():
                    return time.monotonic() - started
                time.sleep(0.1)
            return None

        # Healthy: the anomaly profiles and the gateway's cache are in Redis.
        assert score().status_code == 200
        assert through("anomaly", varied("anomaly", 0)).status_code == 200
        assert through("credit", example("credit")).status_code == 200
        assert _gateway_cache_keys(store.url), "the gateway caches in Redis"

        # Killed: anomaly is a 503 problem, the gateway serves credit without its cache.
        kill_9(store)
        down = [score() for _ in range(5)]
        assert not all_problems(down, 503), all_problems(down, 503)
        assert "store" in down[0].json()["detail"]
        down_via_gateway = [through("anomaly", varied("anomaly", -i)) for i in range(1, 4)]
        assert not all_problems(down_via_gateway, 503), all_problems(down_via_gateway, 503)
        cached_and_new = [through("credit", example("credit"))] + \
                         [through("credit", varied("credit", i)) for i in range(1, 6)]
        assert [r.status_code for r in cached_and_new] == [200] * 6, \
            [(r.status_code, r.text[:200]) for r in cached_and_new]
        figures["anomaly_503_s"] = round(max(r.elapsed.total_seconds() for r in down), 3)
        figures["credit_without_cache_s"] = round(
            max(r.elapsed.total_seconds() for r in cached_and_new), 3)

        # Restarted on its port (empty): anomaly recovers, the gateway caches again.
        store = fleet.redis(port=port_of(store))
        recovered = poll(lambda: score().status_code == 200, within=10)
        assert recovered is not None, "anomaly did not recover within 10 s of Redis' restart"
        figures["anomaly_recovery_s"] = round(recovered, 3)
        gateway_recovered = poll(
            lambda: through("anomaly", varied("anomaly", 1000)).status_code == 200,
            within=RESET + 5)
        assert gateway_recovered is not None, "anomaly through the gateway did not recover"
        figures["anomaly_via_gateway_recovery_s"] = round(gateway_recovered, 3)
        fresh = iter(range(100, 200))
        caching = poll(lambda: through("credit", varied("credit", next(fresh))).status_code
                       == 200 and bool(_gateway_cache_keys(store.url)), within=5)
        assert caching is not None, "the gateway did not cache in the restarted Redis"
        figures["cache_resumed_s"] = round(caching, 3)

        # Full: a Redis at maxmemory with noeviction refuses anomaly's writes, a 503 problem.
        kill_9(store)
        store = fleet.redis("--maxmemory", "1mb", "--maxmemory-policy", "noeviction",
                            port=port_of(store))
        filler = redis_lib.Redis.from_url(store.url, socket_timeout=2)
        try:
            # An empty Redis 7 with a few clients connected already uses ~1.1 MB: the first
            # write may be refused. Filling makes it full whatever the version's baseline.
            for i in range(2_000):  # 20 MB at most
                try:
                    filler.set(f"filler:{i}", b"x" * 10_000)
                except redis_lib.exceptions.OutOfMemoryError:
                    break
            else:
                pytest.fail("Redis never reported OOM")
            full = [score() for _ in range(5)]
            assert not all_problems(full, 503), all_problems(full, 503)
            full_via_gateway = through("anomaly", varied("anomaly", 2000))
            assert not all_problems([full_via_gateway], 503)
            assert through("credit", varied("credit", 500)).status_code == 200
            figures["full_503_s"] = round(max(r.elapsed.total_seconds() for r in full), 3)
            # Room again: emptied, and a limit above an empty Redis' own ~1 MB.
            filler.flushall()
            filler.config_set("maxmemory", "64mb")
        finally:
            filler.close()
        last: list[httpx.Response] = []
        freed = poll(lambda: last.append(score()) or last[-1].status_code == 200, within=5)
        assert freed is not None, ("anomaly did not answer 200 once Redis had room again: "
                                   f"{last[-1].status_code} {last[-1].text[:300]}")
        figures["after_flush_recovery_s"] = round(freed, 3)
    report("Redis killed and filled", **figures)


def spending_batch(size: int, offset: int) -> list[dict[str, Any]]:
    """`size` distinct forecasts (the spending service's own cache is off in these tests)."""
    return [varied("spending", offset + i) for i in range(size)]


async def sigterm_with_requests_in_flight(target: Proc, url: str, path: str, *,
                                          requests: int, batch: int) -> dict[str, Any]:
    """`requests` concurrent batches to `url` + `path`; SIGTERM to `target` while they are in
    flight; every one must come back whole and `target` must exit 0 within GRACE. On a fast
    machine the first batch may be answered before the SIGTERM: at least half of them must
    still be in flight then, or the test has tested nothing."""
    async with httpx.AsyncClient(base_url=url, timeout=GRACE + 20) as client:
        calls = [asyncio.create_task(send(client, path,
                                          {"instances": spending_batch(batch, 1000 * (k + 1))}))
                 for k in range(requests)]
        await asyncio.sleep(0.2)  # every request read by the server (shutdown drops unread ones)
        termed = time.monotonic()
        target.popen.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*calls)
    try:
        code = await asyncio.to_thread(target.popen.wait, GRACE + 5)
    except subprocess.TimeoutExpired:
        code = None  # still running: reported below
    exited = time.monotonic() - termed
    bad = [a for a in answers if a.status != 200]
    assert not bad, f"{target.name}: a request in flight at SIGTERM failed\n{describe(bad)}"
    for a in answers:
        predictions = orjson.loads(a.body)["predictions"]
        assert len(predictions) == batch and all(isinstance(p, dict) and p for p in predictions)
    in_flight = sum(a.done > termed for a in answers)
    assert in_flight >= requests // 2, \
        f"only {in_flight} requests were in flight at SIGTERM: make the batches bigger"
    assert code == 0, (f"{target.name} exited with {code} {exited:.1f}s after SIGTERM:\n"
                       f"{target.log_tail()}")
    assert exited <= GRACE + 2, f"{target.name} took {exited:.1f}s to exit"
    return {"in_flight": in_flight, "answered_after_sigterm_s":
            round(max(a.done for a in answers) - termed, 2), "exit_after_sigterm_s":
            round(exited, 2)}


async def test_sigterm_answers_every_request_in_flight_then_exits_0(fleet):
    """SIGTERM the spending service, then a gateway in front of a new one, each holding eight
    batches of 32 uncached forecasts (~12 ms each: ~0.4 s a batch, ~3 s for all eight)."""
    spending = fleet.service("spending", CACHE_SIZE=0)
    service = await sigterm_with_requests_in_flight(
        spending, spending.url, "/v1/models/spending:predict", requests=8, batch=32)
    spending = fleet.service("spending", CACHE_SIZE=0)
    gateway = fleet.gateway({"spending": spending})
    through_gateway = await sigterm_with_requests_in_flight(
        gateway, gateway.url, "/v1/models/spending:predict", requests=8, batch=32)
    report("SIGTERM in flight", spending=service, gateway=through_gateway)


IDLE = 2_000
MAX_CONNECTIONS = 256
REQUEST_TIMEOUT = 1.0


@pytest.fixture
def enough_file_descriptors():
    """This process (and what it starts) may open IDLE sockets and then some."""
    need = IDLE + 512
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"{IDLE} idle connections need {need} file descriptors; the hard limit "
                    f"(ulimit -Hn) is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                else need, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_2000_idle_connections_are_refused_then_cut_and_service_resumes(
        fleet, enough_file_descriptors):
    """2,000 connections to the gateway that send nothing or half a request head (max
    connections 256, request timeout 1 s), while another caller keeps asking."""
    credit = fleet.service("credit")
    gateway = fleet.gateway({"credit": credit}, MAX_CONNECTIONS=MAX_CONNECTIONS,
                            REQUEST_TIMEOUT=REQUEST_TIMEOUT)
    url = f"{gateway.url}/v1/credit"
    with httpx.Client(timeout=10) as warm:
        assert all(warm.post(url, json=example("credit")).status_code == 200 for _ in range(3))
    time.sleep(0.2)
    baseline = fd_count(gateway)

    def probe() -> Answer:  # a new connection each time: another client
        sent = time.monotonic()
        try:
            response = httpx.post(url, json=example("credit"), timeout=10,
                                  headers={"Connection": "close"})
        except httpx.HTTPError as exc:
            return Answer(sent, time.monotonic() - sent, None, "", repr(exc))
        return Answer(sent, time.monotonic() - sent, response.status_code,
                      response.headers.get("content-type", ""), response.text)

    idle: list[socket.socket] = []
    try:
        started = time.monotonic()
        for i in range(IDLE):
            sock = socket.create_connection(("127.0.0.1", port_of(gateway)), timeout=5)
            if i % 2:
                sock.sendall(b"POST /v1/credit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
            idle.append(sock)
        opened = time.monotonic()
        peak = fd_count(gateway)
        answers: list[Answer] = []
        while time.monotonic() - opened < REQUEST_TIMEOUT + 9:
            answers.append(probe())
            peak = max(peak, fd_count(gateway))
            if len(answers) >= 3 and all(a.status == 200 for a in answers[-3:]):
                break
            time.sleep(0.05)
        cut = 0
        deadline = time.monotonic() + 5
        for sock in idle:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                cut += sock.recv(1024) == b""
            except ConnectionResetError:
                cut += 1
            except TimeoutError:
                pass
        freed_at = None
        for _ in range(50):
            if fd_count(gateway) <= baseline + 8:
                freed_at = time.monotonic()
                break
            time.sleep(0.1)
        after_cut = fd_count(gateway)
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    after_close = fd_count(gateway)

    odd = [a for a in answers if a.status not in (200, 503)]
    assert not odd, f"another caller during the flood: only 200 or 503\n{describe(odd)}"
    refused = [a for a in answers if a.status == 503]
    assert refused, (f"no 503 past {MAX_CONNECTIONS} connections (peak {peak} descriptors):\n"
                     f"{describe(answers)}")
    assert max(a.took for a in refused) < 3 * REQUEST_TIMEOUT, describe(refused)
    assert answers[-1].status == 200, \
        f"service did not resume within {REQUEST_TIMEOUT + 9}s:\n{describe(answers)}"
    resumed = min(a.done for a in answers if a.status == 200) - opened
    assert cut == IDLE, f"{IDLE - cut} idle connections were not cut by the request timeout"
    assert freed_at is not None, (f"the gateway's descriptors stayed at {after_cut} "
                                  f"(baseline {baseline}) after its idle connections were cut")
    assert after_close <= baseline + 8, (after_close, baseline)
    assert gateway.alive()
    report("2,000 idle connections", open_s=round(opened - started, 3),
           fd_baseline=baseline, fd_peak=peak, fd_after_cut=after_cut, fd_after_close=after_close,
           probes=len(answers), refused_503=len(refused),
           slowest_503_s=round(max(a.took for a in refused), 3),
           refused_content_type=refused[0].content_type,
           resumed_after_open_s=round(resumed, 3),
           fds_back_after_open_s=round(freed_at - opened, 3))
