"""`python -m services.ner.bench`: per-sentence latency of the served model (bounded, one core).

Measures the model's predict (what the service runs per request, on the hand-written sentences)
for single-sentence requests and for batches, and one in-process HTTP round trip for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from kit.artifacts import ArtifactStore
from kit.testing import running_client
from services.ner.app import build_app
from services.ner.data import load_eval_set
from services.ner.model import NerModel
from services.ner.schema import NerSettings


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {"p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3), "n": len(ordered)}


def bench_predict(model: NerModel, texts: list[str], rounds: int) -> dict[str, dict]:
    """Wall time, and CPU time of this thread (what a shared, busy machine does not inflate)."""
    wall, cpu = [], []
    for _ in range(rounds):
        for text in texts:
            started, started_cpu = time.perf_counter(), time.thread_time()
            model.predict([{"text": text, "reference_date": "2025-03-15"}])
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
    return {"wall": percentiles(wall), "cpu": percentiles(cpu)}


def bench_batch(model: NerModel, texts: list[str], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        model.predict(texts)
    return round((time.perf_counter() - started) * 1000 / (rounds * len(texts)), 3)


async def bench_http(settings: NerSettings, texts: list[str]) -> dict[str, float]:
    samples = []
    async with running_client(build_app(settings)) as client:
        for text in texts:
            started = time.perf_counter()
            response = await client.post("/v1/models/ner:predict", json={"instances": [text]})
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = NerSettings()
    model = NerModel(settings)
    model.load(ArtifactStore(settings.model_dir, "ner").load(settings.model_version))
    texts = [s.text for s in load_eval_set()]
    bench_predict(model, texts[:20], 1)  # warm-up
    print(f"model {model.version}, {len(texts)} hand-written sentences "
          f"(mean {statistics.mean(len(t) for t in texts):.0f} chars)")
    print("predict, one sentence per call (ms):", bench_predict(model, texts, args.rounds))
    print("predict, batch of 160 (ms per sentence):", bench_batch(model, texts, args.rounds))
    http = asyncio.run(bench_http(settings, texts))
    print("in-process HTTP, one sentence per request (ms):", http)


if __name__ == "__main__":
    main()
