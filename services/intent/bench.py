"""`python -m services.intent.bench`: latency of the served intent model, bounded.

Measures, on one ONNX thread: the encoder alone, the whole model (tokenize → ONNX → head) for
one query, one query through the real service over loopback HTTP (a uvicorn subprocess, as
deployed), and a 32-text batch. Prints `kit.bench` percentiles in milliseconds; numbers
depend on the machine and its load, so compare within one run.
In-thread measurements report wall time and the calling thread's CPU time (`cpu`): with one
ONNX thread the work runs on the caller, so CPU time stays meaningful when other jobs share the
cores.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from http.client import HTTPConnection
from pathlib import Path

from kit import ArtifactStore
from kit.bench import percentiles, time_calls
from kit.procs import free_port, start_service
from kit.settings import REPO_ROOT
from services.intent.model import IntentModel
from services.intent.settings import IntentSettings

QUERIES = [
    "what's my balance?", "how much did I spend on Swiggy last month", "pay my airtel bill",
    "is 720 a good CIBIL score", "my card was stolen", "tell me a joke",
    "how can I save tax under 80C", "can I afford a 40 lakh home loan",
]


def _service(model_dir: Path, repeats: int) -> dict[str, dict[str, float]]:
    """One query at a time through the real service (uvicorn subprocess, one ONNX thread) over
    a keep-alive loopback connection. Two views: the caller's round trip, and the time inside
    the service as its own request log line reports it (ASGI receive to response sent)."""
    port = free_port()
    env = {"INTENT_ONNX_THREADS": "1", "INTENT_LOG_LEVEL": "INFO"}
    connection = HTTPConnection("127.0.0.1", port)

    def ask(i: int) -> None:
        body = json.dumps({"instances": [{"text": QUERIES[i % len(QUERIES)]}]})
        connection.request("POST", "/v1/models/intent:predict", body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"intent answered {response.status}")

    with tempfile.TemporaryDirectory() as logs:
        service = start_service("intent", model_dir, Path(logs), port=port, env=env)
        try:
            round_trip = time_calls(ask, repeats)["wall"]
        finally:
            connection.close()
            service.stop()
        inside = [json.loads(line)["duration_ms"] for line in service.log.read_text().splitlines()
                  if '"route":"/v1/models/intent:predict"' in line][-repeats:]
    return {"round_trip": round_trip, "inside_service": percentiles(inside)}


def run(model_dir: Path, repeats: int) -> dict:
    settings = IntentSettings(model_dir=model_dir, onnx_threads=1, log_level="WARNING")
    artifact = ArtifactStore(model_dir, "intent").load(settings.model_version)
    model = IntentModel(settings)
    model.load(artifact)
    batch = [QUERIES[i % len(QUERIES)] for i in range(32)]
    results = {
        "version": artifact.version,
        "encoder_variant": artifact.manifest["encoder"]["variant"],
        "encoder_one_query": time_calls(lambda i: model.encoder.encode([QUERIES[i % 8]]), repeats),
        "model_one_query": time_calls(lambda i: model.classify([QUERIES[i % 8]]), repeats),
        "service_one_query": _service(model_dir, repeats),
        "model_batch_32": time_calls(lambda _: model.classify(batch), max(20, repeats // 10), 3),
    }
    results["model_batch_32"]["per_text_p50_ms"] = round(
        results["model_batch_32"]["wall"]["p50_ms"] / 32, 3)
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
