"""The trainer on anomaly and spending files (real `python -m services.<name>.train` jobs): a
file the model cannot use is a 422 naming line and column before any job; a good one trains a
registered candidate."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kit.registry import FileRegistry
from services.anomaly.data import generate_transactions
from services.anomaly.own_data import write_transactions
from services.spending.data import generate_users
from services.spending.own_data import write_histories
from trainer.app import build_app
from trainer.tests.test_jobs import settings_for, wait_for


def test_anomaly_and_spending_files_they_cannot_use_are_422_naming_line_and_column(tmp_path):
    settings = settings_for(tmp_path)
    transactions = (b"user,time,amount,merchant,fraud\n"
                    b"u1,2024-03-01 10:00,450.00,kirana-1,0\n"
                    b"u1,2024-03-02,1,200,kirana-1,0\n"
                    b"u1,2024-03-03 11:00,-5,kirana-2,maybe\n")
    spending = b"user,month,total\nu1,2024-01,5000\nu1,2024-01,5100\nu1,2024-14,10\n"
    with TestClient(build_app(settings)) as client:
        anomaly = client.post("/v1/jobs", data={"model": "anomaly"},
                              files={"data": ("tx.csv", transactions, "text/csv")})
        assert anomaly.status_code == 422, anomaly.text
        assert anomaly.headers["content-type"].startswith("application/problem+json")
        fields = {e["field"]: e["message"] for e in anomaly.json()["errors"]}
        assert "has no time of day" in fields["line 3, column time"]
        assert "negative" in fields["line 4, column amount"]
        assert "not a label" in fields["line 4, column fraud"]
        monthly = client.post("/v1/jobs", data={"model": "spending"},
                              files={"data": ("months.csv", spending, "text/csv")})
        assert monthly.status_code == 422, monthly.text
        errors = monthly.json()["errors"]
        assert {"field": "line 4, column month", "line": 4, "column": "month", "type": "data",
                "message": "'2024-14' is not a month such as 2024-03"} in errors
        assert len(errors) == 1  # the months and users are checked once every cell reads
        twice = client.post("/v1/jobs", data={"model": "spending"},
                            files={"data": ("months.csv", spending.rsplit(b"u1", 1)[0],
                                            "text/csv")})
        assert twice.status_code == 422, twice.text
        fields = {e["field"]: e["message"] for e in twice.json()["errors"]}
        assert fields["line 3, column month"] == "user 'u1' has 2024-01 twice (line 2 and this one)"
        assert "1 user(s); at least 5 are needed" in fields["column user"]
        assert client.get("/v1/jobs").json()["jobs"] == []
    assert list(settings.jobs_dir.iterdir()) == []  # refused uploads are not kept


def test_good_anomaly_and_spending_files_train_registered_candidates(tmp_path):
    settings = settings_for(tmp_path)
    transactions = tmp_path / "data" / "transactions.csv"
    write_transactions(generate_transactions(n_users=50, n_merchants=100, days=28, seed=11),
                       transactions, labelled=False)
    households = tmp_path / "data" / "households.csv"
    write_histories("transactions", generate_users(5, seed=4, min_months=8, max_months=12),
                    households)
    with TestClient(build_app(settings)) as client:
        ids = {}
        for model, path in (("anomaly", transactions), ("spending", households)):
            started = client.post("/v1/jobs", json={"model": model, "data_path": str(path),
                                                    "parameters": {"quick": True}})
            assert started.status_code == 202, started.text
            ids[model] = started.json()["id"]
        done = {model: wait_for(client, job, {"succeeded", "failed"})
                for model, job in ids.items()}
    for model, job in done.items():
        assert job["state"] == "succeeded", job
        assert FileRegistry(settings.model_dir, model).aliases().aliases["candidate"] == \
            job["version"]
    assert done["anomaly"]["metrics"]["holdout"]["labelled"] is False
    assert done["spending"]["metrics"]["short"]["series"] == 5
