"""`python -m services.ner.bench`: per-sentence latency of the served model (bounded, one core).

Measures the model's predict (what the service runs per request, on the hand-written sentences)
for single-sentence requests and for batches, and one in-process HTTP round trip for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from kit.artifacts import ArtifactStore
from kit.bench import Stopwatch, time_calls
from kit.testing import running_client
from services.ner.app import build_app
from services.ner.data import load_eval_set
from services.ner.model import NerModel
from services.ner.settings import NerSettings


def bench_predict(model: NerModel, texts: list[str], rounds: int) -> dict[str, dict]:
    """Wall time, and CPU time of this thread (what a shared, busy machine does not inflate)."""
    return time_calls(
        lambda i: model.predict([{"text": texts[i % len(texts)], "reference_date": "2025-03-15"}]),
        rounds * len(texts))


def bench_batch(model: NerModel, texts: list[str], rounds: int) -> float:
    """Mean wall ms per sentence when all of them go in one call."""
    per_call = time_calls(lambda _: model.predict(texts), rounds, warmup=0)["wall"]["mean_ms"]
    return round(per_call / len(texts), 3)


async def bench_http(settings: NerSettings, texts: list[str]) -> dict[str, dict]:
    stopwatch = Stopwatch()
    async with running_client(build_app(settings)) as client:
        for text in texts:
            with stopwatch:
                response = await client.post("/v1/models/ner:predict", json={"instances": [text]})
            response.raise_for_status()
    return stopwatch.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = NerSettings()
    model = NerModel(settings)
    model.load(ArtifactStore(settings.model_dir, "ner").load(settings.model_version))
    texts = [s.text for s in load_eval_set()]
    print(f"model {model.version}, {len(texts)} hand-written sentences "
          f"(mean {statistics.mean(len(t) for t in texts):.0f} chars)")
    print("predict, one sentence per call (ms):", bench_predict(model, texts, args.rounds))
    print("predict, batch of 160 (ms per sentence):", bench_batch(model, texts, args.rounds))
    http = asyncio.run(bench_http(settings, texts))
    print("in-process HTTP, one sentence per request (ms):", http)


if __name__ == "__main__":
    main()
