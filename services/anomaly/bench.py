"""`python -m services.anomaly.bench`: per-transaction latency inside the service.

Warms profiles with a realistic history, then times single-transaction scoring: the whole
`predict` (validation, profile read and write, features, ONNX, reasons), its parts, and the
same request through the app in-process, each as wall and thread-CPU milliseconds
(`kit.bench` percentiles). Bounded: a few thousand calls, one core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import numpy as np

from kit.bench import Stopwatch, time_calls
from kit.settings import REPO_ROOT
from kit.testing import running_client
from services.anomaly.app import build_app
from services.anomaly.data import generate_transactions
from services.anomaly.features import FEATURE_NAMES
from services.anomaly.model import to_tx
from services.anomaly.schema import AnomalyInstance
from services.anomaly.settings import AnomalySettings


def instances_from(df) -> list[dict]:
    return [{"user_id": r.user_id, "transaction_id": r.tx_id,
             "transaction": {"timestamp": r.timestamp.isoformat(), "amount": r.amount,
                             "merchant": r.merchant, "category": r.category}}
            for r in df.itertuples()]


async def run(model_dir: Path, calls: int, redis_url: str | None) -> dict:
    df = generate_transactions(n_users=300, days=30, seed=21)
    warm, probe = df.iloc[:-calls], df.iloc[-calls:]
    settings = AnomalySettings(model_dir=model_dir, redis_url=redis_url, log_level="WARNING")
    app = build_app(settings)
    async with running_client(app) as client:
        model = app.state.model_state.model
        model.profiles.store.clear()
        batch = instances_from(warm)
        for k in range(0, len(batch), 256):
            model.predict(batch[k:k + 256])
        probes = instances_from(probe)
        half = calls // 2
        whole = time_calls(lambda i: model.predict([probes[i]]), half, warmup=0)
        row = np.zeros((1, len(model.columns)), dtype=np.float32)
        onnx = time_calls(lambda _: model.scorer.score(row), half)
        parsed = [AnomalyInstance.model_validate(one) for one in probes[:half]]
        features = time_calls(lambda i: model.profiles.observe(
            parsed[i].user_id, to_tx(parsed[i].transaction, f"{parsed[i].transaction_id}x"),
            model.prior), half, warmup=0)
        http, path = Stopwatch(), "/v1/models/anomaly:predict"
        for one in probes[half:]:
            with http:
                response = await client.post(path, json={"instances": [one]})
            assert response.status_code == 200
        history = np.mean([len(model.profiles.profile(u)["t"]) for u in probe["user_id"]])
        model.profiles.store.clear()
    return {
        "store": "redis" if redis_url else "in-process",
        "model_features": len(model.columns), "features_computed": len(FEATURE_NAMES),
        "mean_history_per_user": round(float(history), 1),
        "predict_one_transaction": whole,
        "profile_read_features_write": features,
        "onnx_forest_one_row": onnx,
        "http_in_process_one_transaction": http.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args.model_dir, args.calls, args.redis_url))
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
