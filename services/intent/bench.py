"""`python -m services.intent.bench`: latency of the served intent model, bounded.

Measures, on one ONNX thread: the encoder alone, the whole model (tokenize → ONNX → head) for
one query, one query through the real service over loopback HTTP (a uvicorn subprocess, as
deployed), and a 32-text batch. Prints p50/p90 in milliseconds; numbers depend on the machine
and its load, so compare within one run.
In-thread measurements also report the calling thread's CPU time (`cpu_p50_ms`): with one ONNX
thread the work runs on the caller, so this stays meaningful when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from kit import ArtifactStore
from kit.settings import REPO_ROOT
from services.intent.model import IntentModel
from services.intent.schema import IntentSettings

QUERIES = [
    "what's my balance?", "how much did I spend on Swiggy last month", "pay my airtel bill",
    "is 720 a good CIBIL score", "my card was stolen", "tell me a joke",
    "how can I save tax under 80C", "can I afford a 40 lakh home loan",
]


def _summary(samples: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    ordered = sorted(samples)
    out = {"p50_ms": round(statistics.median(ordered) * 1000, 3),
           "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 3),
           "n": len(ordered)}
    if cpu:
        out["cpu_p50_ms"] = round(statistics.median(cpu) * 1000, 3)
    return out


def _time(fn, repeats: int, warmup: int = 20) -> dict[str, float]:
    for i in range(warmup):
        fn(i)
    samples, cpu = [], []
    for i in range(repeats):
        started, started_cpu = time.perf_counter(), time.thread_time()
        fn(i)
        samples.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
    return _summary(samples, cpu)


def _service(model_dir: Path, repeats: int) -> dict[str, dict[str, float]]:
    """One query at a time through the real service (uvicorn subprocess, one ONNX thread) over
    a keep-alive loopback connection. Two views: the caller's round trip, and the time inside
    the service as its own request log line reports it (ASGI receive to response sent)."""
    from http.client import HTTPConnection

    from tests import procs

    port = procs.free_port()
    env = {"INTENT_PORT": str(port), "INTENT_HOST": "127.0.0.1", "INTENT_MODEL_DIR": str(model_dir),
           "INTENT_ONNX_THREADS": "1", "INTENT_LOG_LEVEL": "INFO"}
    with tempfile.TemporaryDirectory() as logs:
        service = procs.start_python_service("intent", ["services.intent"], env, port, Path(logs))
        try:
            connection = HTTPConnection("127.0.0.1", port)
            samples = []
            for i in range(repeats + 20):
                body = json.dumps({"instances": [{"text": QUERIES[i % len(QUERIES)]}]})
                started = time.perf_counter()
                connection.request("POST", "/v1/models/intent:predict", body,
                                   {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if i >= 20:
                    samples.append(time.perf_counter() - started)
                if response.status != 200:
                    raise RuntimeError(f"intent answered {response.status}")
            connection.close()
        finally:
            service.stop()
        inside = [json.loads(line)["duration_ms"] / 1000
                  for line in service.log.read_text().splitlines()
                  if '"route":"/v1/models/intent:predict"' in line][-repeats:]
    return {"round_trip": _summary(samples), "inside_service": _summary(inside)}


def run(model_dir: Path, repeats: int) -> dict:
    settings = IntentSettings(model_dir=model_dir, onnx_threads=1, log_level="WARNING")
    artifact = ArtifactStore(model_dir, "intent").load(settings.model_version)
    model = IntentModel(settings)
    model.load(artifact)
    batch = [QUERIES[i % len(QUERIES)] for i in range(32)]
    results = {
        "version": artifact.version,
        "encoder_variant": artifact.manifest["encoder"]["variant"],
        "encoder_one_query": _time(lambda i: model.encoder.encode([QUERIES[i % 8]]), repeats),
        "model_one_query": _time(lambda i: model.classify([QUERIES[i % 8]]), repeats),
        "service_one_query": _service(model_dir, repeats),
        "model_batch_32": _time(lambda i: model.classify(batch), max(20, repeats // 10), 3),
    }
    results["model_batch_32"]["per_text_ms"] = round(results["model_batch_32"]["p50_ms"] / 32, 3)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    results = run(args.model_dir, args.repeats)
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    results["cpus"] = os.cpu_count()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
