"""`finfleet train anomaly|spending --data FILE` (the installed command, real processes): the
version trained on a user's own file is served by the real service over HTTP, and answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from kit import procs
from kit.artifacts import ArtifactStore
from kit.settings import REPO_ROOT
from services.anomaly.data import generate_transactions
from services.anomaly.own_data import write_transactions
from services.anomaly.promotion import as_instance
from services.spending.data import generate_users
from services.spending.own_data import as_monthly, write_histories

FINFLEET = Path(sys.executable).parent / "finfleet"


def finfleet_train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(FINFLEET), "train", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


def predict(proc: procs.Proc, name: str, instances: list[dict]) -> dict:
    status, body = procs.post_json(f"{proc.url}/v1/models/{name}:predict",
                                   json.dumps({"instances": instances}).encode())
    assert status == 200, body[:500]
    return json.loads(body)


def test_own_transactions_train_the_served_anomaly_model(tmp_path):
    frame = generate_transactions(n_users=50, n_merchants=100, days=28, seed=11)
    data = tmp_path / "mine.csv"
    write_transactions(frame, data, labelled=False)
    done = finfleet_train("anomaly", "--data", str(data), "--quick", "--no-progress",
                          "--model-dir", str(tmp_path / "models"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "unsupervised (no fraud labels)" in done.stdout
    version = ArtifactStore(tmp_path / "models", "anomaly").load().version
    service = procs.start_service("anomaly", tmp_path / "models", tmp_path / "logs")
    try:
        user = frame[frame["user_id"] == frame["user_id"].iloc[0]]
        history = [as_instance({**r, "timestamp": r["timestamp"].isoformat()})
                   for r in user.to_dict("records")]
        answer = predict(service, "anomaly", history)
        assert answer["model_version"] == version and len(answer["predictions"]) == len(user)
        night = (user["timestamp"].max().normalize() + pd.Timedelta(hours=27)).isoformat()
        odd = predict(service, "anomaly", [{"user_id": str(user["user_id"].iloc[0]),
                                            "transaction": {"timestamp": night,
                                                            "amount": 80_000.0,
                                                            "merchant": "never-seen"}}])
        assert odd["predictions"][0]["is_anomaly"] is True  # the profile is the user's own
    finally:
        service.stop()


def test_own_monthly_totals_train_the_served_spending_model(tmp_path):
    users = [as_monthly(u) for u in generate_users(6, seed=4, min_months=8, max_months=14)]
    data = tmp_path / "months.csv"
    write_histories("monthly", users, data)
    bad = tmp_path / "bad.csv"
    bad.write_text("user,month,total\nu1,2024-01,5000\nu1,2024-01,5100\n")
    refused = finfleet_train("spending", "--data", str(bad), "--model-dir", str(tmp_path / "x"))
    assert refused.returncode == 2
    assert "line 3, column month: user 'u1' has 2024-01 twice" in refused.stderr
    done = finfleet_train("spending", "--data", str(data), "--no-progress",
                          "--model-dir", str(tmp_path / "models"))
    assert done.returncode == 0, done.stderr[-2000:]
    version = ArtifactStore(tmp_path / "models", "spending").load().version
    service = procs.start_service("spending", tmp_path / "models", tmp_path / "logs")
    try:
        answer = predict(service, "spending", [{"history": users[0].transactions,
                                                "horizon_months": 3}])
        assert answer["model_version"] == version
        forecast = answer["predictions"][0]
        assert forecast["history_kind"] == "monthly" and len(forecast["forecast"]) == 3
        assert forecast["history_months"] == len(users[0].transactions)
    finally:
        service.stop()
