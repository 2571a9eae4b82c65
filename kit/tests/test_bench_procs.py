"""kit.bench on known numbers, and kit.procs against a real tiny HTTP server in a subprocess
(one that forks a child, so stopping the process group is what is tested)."""

import asyncio
import itertools
import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kit import procs
from kit.bench import Stopwatch, percentiles, time_calls

TINY_SERVER = """
import json, os, signal, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

if os.environ.get("FAIL"):
    print("boom: the model file is missing", flush=True)
    sys.exit(3)
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
ready_at = time.monotonic() + float(os.environ.get("READY_AFTER_S", "0"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health/ready":
            ready = time.monotonic() >= ready_at
            self.answer(200 if ready else 503, {"status": "ready" if ready else "loading"})
        else:
            self.answer(200, {"child": child.pid})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.answer(200 if self.path == "/echo" else 422, body)

    def answer(self, status, document):
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
print("tiny server listening", flush=True)
server.serve_forever()
"""


def test_percentiles_of_one_to_a_hundred():
    assert percentiles(list(range(1, 101))) == {
        "p50_ms": 50.5, "p90_ms": 90.1, "p95_ms": 95.05, "p99_ms": 99.01, "mean_ms": 50.5,
        "min_ms": 1.0, "max_ms": 100.0, "n": 100}


def test_percentiles_round_to_the_microsecond_and_need_samples():
    assert percentiles([0.12345])["p50_ms"] == 0.123
    with pytest.raises(ValueError, match="no samples"):
        percentiles([])


def test_time_calls_warms_up_untimed_then_gives_each_call_its_own_index():
    seen = []
    fake_cpu = itertools.count(0, 0.002)

    def call(i: int) -> None:
        seen.append(i)
        if i >= 2:
            time.sleep(0.01)

    result = time_calls(call, 4, warmup=2, cpu_clock=lambda: next(fake_cpu))
    assert seen == [0, 1, 2, 3, 4, 5]
    assert result["wall"]["n"] == result["cpu"]["n"] == 4
    assert result["wall"]["min_ms"] >= 10
    assert result["cpu"] == percentiles([2.0] * 4)


def test_sleeping_costs_wall_time_but_no_thread_cpu_time_also_across_await():
    stopwatch = Stopwatch()

    async def sleeps() -> None:
        for _ in range(3):
            with stopwatch:
                await asyncio.sleep(0.01)

    asyncio.run(sleeps())
    summary = stopwatch.summary()
    assert summary["wall"]["min_ms"] >= 10
    assert summary["cpu"]["max_ms"] < summary["wall"]["min_ms"]


def _gone(pid: int, within_s: float = 5.0) -> bool:
    """No such process, or only a zombie left for its (re)parent to reap, within `within_s`: a
    killed process's teardown is the kernel's, and takes a moment on a busy machine."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


@pytest.fixture
def tiny(tmp_path: Path):
    script = tmp_path / "tiny_server.py"
    script.write_text(TINY_SERVER)
    started: list[procs.Proc] = []

    def start(**env: str) -> procs.Proc:
        port = procs.free_port()
        proc = procs.start("tiny", [sys.executable, str(script)], tmp_path / "logs" / "tiny.log",
                           env={"PORT": str(port), **env}, url=f"http://127.0.0.1:{port}")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def _child_pid(proc: procs.Proc) -> int:
    with urllib.request.urlopen(proc.url + "/child", timeout=5) as resp:
        return json.loads(resp.read())["child"]


def _port(proc: procs.Proc) -> int:
    return int(proc.url.rsplit(":", 1)[1])


def test_start_waits_until_ready_then_stop_leaves_no_process(tiny):
    proc = tiny(READY_AFTER_S="0.5")
    began = time.monotonic()
    procs.wait_ready(proc, timeout_s=30)
    assert time.monotonic() - began >= 0.4
    child = _child_pid(proc)
    assert set(proc.pids()) == {proc.popen.pid, child}
    assert proc.rss_mb() > 1 and proc.cpu_s() > 0
    assert procs.post_json(proc.url + "/echo", b'{"a": 1}') == (200, b'{"a": 1}')
    assert procs.post_json(proc.url + "/other", b"[1]") == (422, b"[1]")
    proc.stop()
    assert not proc.alive() and _gone(proc.popen.pid) and _gone(child)
    proc.stop()


def test_a_process_ignoring_sigterm_is_killed_with_its_group(tiny):
    proc = tiny(IGNORE_TERM="1")
    procs.wait_for_port(proc, _port(proc))
    procs.wait_ready(proc)
    child = _child_pid(proc)
    began = time.monotonic()
    proc.stop(timeout_s=0.5)
    assert time.monotonic() - began < 5
    assert _gone(proc.popen.pid) and _gone(child)


def test_a_failing_start_says_how_it_exited_and_quotes_the_log(tiny):
    proc = tiny(FAIL="1")
    with pytest.raises(procs.ProcessError) as failed:
        procs.wait_ready(proc, timeout_s=30)
    first, *tail = str(failed.value).splitlines()
    assert first.startswith("tiny exited with 3 (log: ") and str(proc.log) in first
    assert tail == ["boom: the model file is missing"]


def test_never_ready_times_out_with_the_last_answer_and_stops_the_process(tiny):
    proc = tiny(READY_AFTER_S="600")
    procs.wait_for_port(proc, _port(proc))
    with pytest.raises(procs.ProcessError, match=r"not ready after 1s \(HTTP 503 .*loading") as err:
        procs.wait_ready(proc, timeout_s=1)
    assert "tiny server listening" in str(err.value)
    assert not proc.alive()
