"""A user's own transactions (docs/own-data.md): a labelled file trains the served model with
the default report and predicts; an unlabelled one trains unsupervised and says so; every
problem is named by its line and column; the retraining hook writes the same format."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from kit.artifacts import ArtifactStore
from kit.datafiles import DataError
from kit.registry import FileRegistry
from services.anomaly.data import generate_transactions
from services.anomaly.model import AnomalyModel
from services.anomaly.own_data import (
    MIN_TRANSACTIONS,
    check_user_data,
    read_transactions,
    write_transactions,
)
from services.anomaly.promotion import as_instance, evaluation_sets
from services.anomaly.retrain_data import log_dataset
from services.anomaly.settings import AnomalySettings
from services.anomaly.train import main, run_config

QUICK = run_config(quick=True)
# 50 users over 28 days (3,350 transactions): the generator's frauds fall in every quick window.
FRAME = generate_transactions(n_users=50, n_merchants=100, days=28, seed=11)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("own-anomaly")
    labelled, unlabelled = root / "labelled.csv", root / "unlabelled.csv"
    write_transactions(FRAME, labelled)
    write_transactions(FRAME, unlabelled, labelled=False)
    return {"labelled": labelled, "unlabelled": unlabelled}


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def problems(path: Path, cfg=QUICK) -> dict[tuple, str]:
    with pytest.raises(DataError) as caught:
        read_transactions(path, cfg)
    return {(p.line, p.column): p.message for p in caught.value.problems}


def test_a_labelled_file_trains_a_candidate_with_the_default_report_and_predicts(files,
                                                                                  tmp_path):
    assert main(["--data", str(files["labelled"]), "--quick", "--model-dir", str(tmp_path),
                 "--no-progress"]) == 0
    artifact = ArtifactStore(tmp_path, "anomaly").load()
    manifest = artifact.manifest
    assert manifest["data"] == "own:labelled.csv" and manifest["evaluation"] == "supervised"
    holdout = manifest["metrics"]["holdout"]
    assert holdout["transactions"] > 0 and holdout["fraud_rate"] > 0
    assert 0.0 <= holdout["auc_roc"] <= 1.0 and 0.0 <= holdout["average_precision"] <= 1.0
    assert manifest["features"]["selection"]  # forward selection ran on the user's labels
    assert "holdout_file" in manifest and "AUC-ROC" in artifact.file("report.md").read_text()
    assert FileRegistry(tmp_path, "anomaly").aliases().aliases["candidate"] == artifact.version
    model = AnomalyModel(AnomalySettings())
    model.load(artifact)
    user = FRAME[FRAME["user_id"] == FRAME["user_id"].iloc[0]]
    stream = [as_instance({**r, "timestamp": r["timestamp"].isoformat()})
              for r in user.to_dict("records")]
    answers = model.predict(stream)
    assert [a["transaction_id"] for a in answers] == list(user["tx_id"])
    assert all(0.0 <= a["score"] <= 1.0 for a in answers)
    assert model.profiles.profile(str(user["user_id"].iloc[0]))["i"] == list(user["tx_id"])


def test_an_unlabelled_file_trains_unsupervised_and_its_report_says_so(files, tmp_path):
    assert main(["--data", str(files["unlabelled"]), "--quick", "--model-dir", str(tmp_path),
                 "--no-progress"]) == 0
    artifact = ArtifactStore(tmp_path, "anomaly").load()
    manifest = artifact.manifest
    holdout = manifest["metrics"]["holdout"]
    assert manifest["evaluation"].startswith("unsupervised")
    assert holdout["labelled"] is False and "auc_roc" not in holdout
    assert 0.0 < holdout["flagged_rate"] < 0.1 and holdout["users"] == 50
    assert manifest["metrics"]["all_features_baseline"] is None
    assert "holdout_file" not in manifest  # no fraud to judge: the gate uses its golden set
    sets, notes = evaluation_sets(artifact)
    assert [s.name for s in sets] == ["golden"] and "without fraud labels" in notes[0]
    assert not any(f.startswith("merchant_fraud") for f in manifest["features"]["model"])
    assert manifest["parameters"]["select_features"] is False
    report = artifact.file("report.md").read_text()
    assert "Evaluation is unsupervised" in report and "AUC-ROC" not in report
    model = AnomalyModel(AnomalySettings())
    model.load(artifact)
    user = str(FRAME["user_id"].iloc[0])
    usual = [as_instance({**r, "timestamp": r["timestamp"].isoformat()})
             for r in FRAME[FRAME["user_id"] == user].to_dict("records")]
    model.predict(usual)
    last = FRAME[FRAME["user_id"] == user]["timestamp"].max()
    night = (last.normalize() + pd.Timedelta(hours=27)).isoformat()
    odd = {"user_id": user, "transaction": {"timestamp": night, "amount": 80_000.0,
                                            "merchant": "never-seen"}}
    assert model.predict([odd])[0]["is_anomaly"] is True  # 3 am, huge, a new merchant


def test_bad_cells_are_named_by_line_and_column(files, tmp_path):
    rows = rows_of(files["labelled"])
    rows[0]["time"] = "2024-01-01"
    rows[1]["time"] = "yesterday 10:00"
    rows[2]["amount"] = "1,200.00"
    rows[3]["amount"] = "-50"
    rows[4]["fraud"] = "maybe"
    rows[5]["merchant"] = ""
    rows[6]["transaction_id"] = rows[7]["transaction_id"]
    rows[8]["amount"] = "nan"
    rows[9]["user"] = "u" * 200
    found = problems(write(tmp_path / "bad.csv", rows))
    assert "has no time of day" in found[(2, "time")]
    assert "not an ISO 8601 time" in found[(3, "time")]
    assert "no currency sign or thousands separator" in found[(4, "amount")]
    assert "negative" in found[(5, "amount")]
    assert "not a label" in found[(6, "fraud")]
    assert found[(7, "merchant")] == "empty merchant"
    assert found[(9, "transaction_id")] == "the same transaction_id as line 8"
    assert "not a finite number" in found[(10, "amount")]
    assert "at most 128" in found[(11, "user")]
    assert len(found) == 9


def test_missing_columns_few_transactions_and_short_histories(files, tmp_path):
    rows = rows_of(files["labelled"])
    found = problems(write(tmp_path / "cols.csv", rows, ["user", "amount", "merchant"]))
    assert set(found) == {(1, "time")} and "the header has user, amount, merchant" in found[
        (1, "time")]
    few = problems(write(tmp_path / "few.csv", rows[:40]))
    assert f"at least {MIN_TRANSACTIONS} are needed" in few[(None, None)]
    lonely = dict(rows[100], user="newcomer", transaction_id="n1")
    found = problems(write(tmp_path / "lonely.csv", [*rows, lonely]))
    assert found == {(len(rows) + 2, "user"): "user 'newcomer' has 1 transaction(s); at least 3"
                     " are needed to build a profile (leave such users out)"}


def test_too_few_days_and_windows_without_fraud(files, tmp_path):
    rows = rows_of(files["labelled"])
    recent = [r for r in rows if r["time"] >= "2024-01-10"]
    found = problems(write(tmp_path / "short.csv", recent))
    assert "span 19 day(s)" in found[(None, "time")] and "at least 27" in found[(None, "time")]
    full = problems(files["labelled"], run_config())  # without --quick the windows are longer
    assert "at least 36 are needed" in full[(None, "time")]
    genuine = [dict(r, fraud="0") if r["time"] >= "2024-01-25" else r for r in rows]
    found = problems(write(tmp_path / "nofraud.csv", genuine))
    assert "the test window (2024-01-25 to 2024-01-28) has 0 fraud(s)" in found[(None, "fraud")]
    check_user_data(files["unlabelled"], {"quick": True})  # no labels: nothing to find there


def logged(frame, labels: dict[str, str], served_by: str = "production") -> list[dict]:
    """Rows as `LogStore.labelled("anomaly")` returns them (user ids hashed as logged)."""
    out = []
    for i, r in enumerate(frame.to_dict("records")):
        if r["tx_id"] not in labels:
            continue
        instance = as_instance({**r, "timestamp": r["timestamp"].isoformat() + "+05:30"})
        instance["user_id"] = "h" + instance["user_id"]
        out.append({"prediction_id": f"p{i}", "ts": float(i), "version": "v1",
                    "served_by": served_by, "key": r["tx_id"], "user_hash": instance["user_id"],
                    "input": instance, "output": {"score": 0.5, "is_anomaly": False},
                    "label": labels[r["tx_id"]], "labelled_at": float(i), "source": "feedback"})
    return out


def test_the_retraining_hook_writes_labelled_transactions_after_the_generated_set(tmp_path):
    served = generate_transactions(n_users=6, n_merchants=40, days=10, seed=4,
                                   start="2026-03-01")
    frauds = set(served.loc[served["fraud"] == 1, "tx_id"])
    labels = {t: "fraud" if t in frauds else "genuine" for t in served["tx_id"]}
    once = served[served["user_id"] == "u00005"]["tx_id"].iloc[0]
    rows = logged(served, labels)
    rows += [dict(r, prediction_id="again", ts=1e9, label="fraud") for r in rows
             if r["key"] == once]  # scored twice: the later outcome wins
    rows += logged(served.head(5), {t: "fraud" for t in served["tx_id"]}, "shadow")
    sparse = served[served["user_id"] == "u00002"]["tx_id"].iloc[:2]
    rows = [r for r in rows if r["user_hash"] != "hu00002" or r["key"] in set(sparse)]
    out = tmp_path / "retrain.csv"
    written = log_dataset(rows, out, original=False)
    kept = served[served["user_id"] != "u00002"]
    assert written == len(kept)  # u00002 has two labelled transactions: too few for a profile
    back = rows_of(out)
    assert {r["user"] for r in back} == {"h" + u for u in kept["user_id"].unique()}
    assert next(r["fraud"] for r in back if r["transaction_id"] == once) == "1"
    assert back[0]["time"] == str(kept["timestamp"].iloc[0])  # +05:30 is local time
    both = log_dataset(rows, out, original=True)
    own = read_transactions(out, QUICK)  # a valid own-data file, labelled
    assert own.labelled and len(own.frame) == both > written
    first_logged = own.frame.loc[own.frame["user_id"].str.startswith("h"), "timestamp"].min()
    assert own.frame.loc[~own.frame["user_id"].str.startswith("h"), "timestamp"].max() < \
        first_logged.normalize()
