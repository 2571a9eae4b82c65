"""A service as several worker processes on one port (`<NAME>_WORKERS`, kit/serve.py), for
real: both workers load and answer, a scrape from any of them counts every worker's requests,
every prediction is logged once, a killed worker is replaced (and stops being counted as
serving), and SIGTERM stops them all and removes the shared metrics folder."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kit.predlog_store import SqliteLogStore
from kit.procs import free_port
from kit.settings import REPO_ROOT
from tests.toy_words.train import main as train_words

INFO = re.compile(r'finfleet_model_info\{pid="(\d+)",service="words",version="[^"]+"\} 1\.0')


def scrape(url: str) -> str:
    # a fresh connection each time: the kernel hands it to either worker
    return httpx.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=5).text


def counted(text: str) -> float:
    found = re.search(r'finfleet_http_requests_total\{route="/v1/models/words:predict",'
                      r'service="words",status="200"\} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


def serving_pids(url: str) -> set[int]:
    return {int(pid) for pid in INFO.findall(scrape(url))}


def wait_for(check, what: str, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if value := check():
                return value
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def two_workers(tmp_path):
    train_words(["--model-dir", str(tmp_path / "models")])
    port = free_port()
    env = {**os.environ, "WORDS_PORT": str(port), "WORDS_MODEL_DIR": str(tmp_path / "models"),
           "WORDS_WORKERS": "2", "WORDS_LOG_DIR": str(tmp_path / "log"),
           "WORDS_LOG_FLUSH_SECONDS": "0.1", "WORDS_LOG_LEVEL": "WARNING", "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.toy_words"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: len(serving_pids(url)) == 2, "two workers serving")
        yield proc, url, tmp_path
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        with contextlib.suppress(ProcessLookupError):  # no worker outlives its test
            os.killpg(proc.pid, signal.SIGKILL)


def predict(url: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        reply = httpx.post(f"{url}/v1/models/words:predict", timeout=5,
                           headers={"Connection": "close"},
                           json={"instances": [{"text": f"hello world {i}"}]})
        assert reply.status_code == 200, reply.text
        ids.extend(reply.json()["prediction_ids"])
    return ids


def test_workers_share_the_port_metrics_and_the_log(two_workers):
    _, url, tmp_path = two_workers
    ids = predict(url, 20)
    while len({i[:16] for i in ids}) < 2 and len(ids) < 400:  # the kernel may favour one
        ids += predict(url, 20)
    assert len({i[:16] for i in ids}) == 2, "both workers answered (an id prefix a process)"
    assert len(set(ids)) == len(ids)
    for _ in range(6):  # whichever worker answers, it reports both workers' requests
        assert counted(scrape(url)) == len(ids)

    def all_logged():
        rows = SqliteLogStore(tmp_path / "log").read_predictions("words")
        return rows if len(rows) >= len(ids) else None
    rows = wait_for(all_logged, "every prediction in the log")
    assert sorted(r["prediction_id"] for r in rows) == sorted(ids)


def test_a_killed_worker_is_replaced_and_sigterm_stops_every_worker(two_workers):
    proc, url, tmp_path = two_workers
    first = serving_pids(url)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    replaced = wait_for(lambda: (p := serving_pids(url)) and len(p) == 2 and victim not in p
                        and p, "a replacement worker")
    assert victim not in replaced and len(replaced & first) == 1
    assert len(predict(url, 4)) == 4

    metrics_dirs = list(Path(tmp_path).glob("finfleet-metrics-*"))
    assert len(metrics_dirs) == 1, "the supervisor keeps the workers' metrics in TMPDIR"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    for pid in replaced:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), f"worker {pid} to exit", 15)
    assert not metrics_dirs[0].exists()


def test_a_worker_ends_when_its_supervisor_is_killed(two_workers):
    """kill -9 of the supervisor leaves no worker serving on (PR_SET_PDEATHSIG)."""
    proc, url, _ = two_workers
    workers = serving_pids(url)
    proc.kill()
    proc.wait(timeout=10)
    for pid in workers:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists()
                 or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z",
                 f"worker {pid} to exit", 30)


def serve_two_workers(factory: str, tmp_path: Path, timeout: float,
                      **settings: str) -> subprocess.CompletedProcess:
    """`serve(factory, WordsSettings(workers=2, ...))` in a process of its own, to its end."""
    code = ("from kit.serve import serve; from tests.toy_words.settings import WordsSettings; "
            f"serve({factory!r}, WordsSettings(workers=2, port={free_port()}, **{settings!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "TMPDIR": str(tmp_path)})


def test_a_worker_that_cannot_build_its_app_stops_the_supervisor_with_status_3(tmp_path):
    """Not a crash loop: the same import would fail in every replacement."""
    done = serve_two_workers("tests.toy_words.missing:build_app", tmp_path, timeout=120)
    assert done.returncode == 3, done.stderr[-2000:]
    assert 'Could not import module "tests.toy_words.missing"' in done.stderr
    assert not list(tmp_path.glob("finfleet-metrics-*")), "its metrics folder is removed"


def test_workers_without_redis_are_refused_for_a_service_keeping_user_records():
    from services.spending.settings import SpendingSettings

    with pytest.raises(ValueError, match="SPENDING_WORKERS=2 needs SPENDING_REDIS_URL"):
        SpendingSettings(workers=2)
    assert SpendingSettings(workers=2, redis_url="redis://127.0.0.1:6379/0").workers == 2


def crashing_app(settings):
    """A worker that dies half a second after it is built (a factory for the test below)."""
    import threading

    from tests.toy_words.app import build_app

    threading.Timer(0.5, os._exit, (1,)).start()
    return build_app(settings)


def test_workers_that_keep_dying_stop_the_supervisor_with_status_1(tmp_path):
    """Not a tight restart loop: the container's own back-off takes over."""
    train_words(["--model-dir", str(tmp_path / "models")])
    done = serve_two_workers("kit.tests.test_workers:crashing_app", tmp_path, timeout=300,
                             model_dir=str(tmp_path / "models"))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "workers died 6 times in 60 s: stopping" in done.stderr
