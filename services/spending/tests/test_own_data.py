"""A user's own spending (docs/own-data.md): transactions or monthly totals, told apart by the
header, train the served model with the default report and predict; every problem is named by
its line and column; the retraining hook writes the same formats from logged histories."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from kit.artifacts import ArtifactStore
from kit.datafiles import DataError
from kit.registry import FileRegistry
from services.spending.data import SyntheticUser, generate_users
from services.spending.model import SpendingModel
from services.spending.own_data import (
    MIN_MONTHS,
    MIN_USERS,
    as_monthly,
    user_histories,
    write_histories,
)
from services.spending.retrain_data import log_dataset
from services.spending.settings import SpendingSettings
from services.spending.train import main

# Six households of 8 to 14 months (short histories: Theta alone, so training takes seconds).
USERS = generate_users(6, seed=4, min_months=8, max_months=14)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("own-spending")
    out = {"transactions": root / "transactions.csv", "monthly": root / "monthly.csv"}
    write_histories("transactions", USERS, out["transactions"])
    write_histories("monthly", [as_monthly(u) for u in USERS], out["monthly"])
    return out


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header or list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def problems(path: Path) -> dict[tuple, str]:
    with pytest.raises(DataError) as caught:
        user_histories(path)
    return {(p.line, p.column): p.message for p in caught.value.problems}


def test_both_formats_train_the_same_candidate_metrics_and_predict(files, tmp_path):
    metrics = {}
    for kind, path in files.items():
        model_dir = tmp_path / kind
        assert main(["--data", str(path), "--quick", "--model-dir", str(model_dir),
                     "--no-progress"]) == 0
        artifact = ArtifactStore(model_dir, "spending").load()
        assert artifact.manifest["data"] == f"own:{path.name} ({kind})"
        assert FileRegistry(model_dir, "spending").aliases().aliases["candidate"] == \
            artifact.version
        assert f"6 households of own:{path.name}" in artifact.file("report.md").read_text()
        metrics[kind] = artifact.manifest["metrics"]
        model = SpendingModel(SpendingSettings())
        model.load(artifact)
        history = [dict(t) for t in (USERS[0].transactions if kind == "transactions"
                                     else as_monthly(USERS[0]).transactions)]
        answer = model.predict([{"history": history, "horizon_months": 2}])[0]
        assert answer["history_kind"] == kind and len(answer["forecast"]) == 2
        assert 0 < answer["total"]["lower"] <= answer["total"]["yhat"] <= answer["total"]["upper"]
    # Short histories are forecast from their monthly totals alone: the same numbers either way.
    assert metrics["transactions"]["short"]["series"] == 6
    by_transactions, by_totals = metrics["transactions"]["short"], metrics["monthly"]["short"]
    assert by_transactions == pytest.approx(by_totals, rel=1e-9)  # totals rounded to 0.01


def test_the_header_decides_the_format(files, tmp_path):
    assert user_histories(files["monthly"])[0] == "monthly"
    kind, users = user_histories(files["transactions"])
    assert kind == "transactions" and [u.user_id for u in users] == [u.user_id for u in USERS]
    assert users[0].transactions == sorted(USERS[0].transactions, key=lambda t: t["date"])
    found = problems(write(tmp_path / "x.csv", [{"user": "a", "day": "2024-01-01", "spent": 1}]))
    assert "matches neither" in found[(1, None)]
    found = problems(write(tmp_path / "y.csv", [{"user": "a", "date": "2024-01-01", "amount": 1,
                                                 "month": "2024-01", "total": 1}]))
    assert "matches both" in found[(1, None)]


def test_bad_cells_are_named_by_line_and_column(files, tmp_path):
    rows = rows_of(files["transactions"])
    rows[0]["date"] = "01/02/2024"
    rows[1]["date"] = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    rows[2]["amount"] = "₹450"
    rows[3]["amount"] = "-20"
    rows[4]["user"] = ""
    rows[5]["category"] = "c" * 41
    found = problems(write(tmp_path / "bad.csv", rows))
    assert "is not a date such as 2024-03-01" in found[(2, "date")]
    assert "is in the future" in found[(3, "date")]
    assert "no currency sign" in found[(4, "amount")]
    assert "negative" in found[(5, "amount")]
    assert found[(6, "user")] == "empty user"
    assert "at most 40" in found[(7, "category")]
    assert len(found) == 6
    monthly = rows_of(files["monthly"])
    monthly[0]["month"] = "2024-13"
    monthly[1]["total"] = "inf"
    found = problems(write(tmp_path / "badm.csv", monthly))
    assert "is not a month such as 2024-03" in found[(2, "month")]
    assert "not a finite number" in found[(3, "total")]


def test_duplicate_and_missing_months_and_gaps_in_transactions(files, tmp_path):
    monthly = rows_of(files["monthly"])
    first_user = [r for r in monthly if r["user"] == USERS[0].user_id]
    twice = [*monthly[:3], dict(monthly[1]), *monthly[3:]]
    found = problems(write(tmp_path / "twice.csv", twice))
    assert found[(5, "month")] == (f"user {USERS[0].user_id!r} has {monthly[1]['month']} twice "
                                   "(line 3 and this one)")
    gap = [r for r in monthly if r is not first_user[4]]
    found = problems(write(tmp_path / "gap.csv", gap))
    assert f"has no total for {first_user[4]['month']} between" in found[(2, "month")]
    assert "must be contiguous" in found[(2, "month")]
    rows = rows_of(files["transactions"])
    month = rows[0]["date"][:7]
    second = next(r["date"][:7] for r in rows if r["date"][:7] != month)
    found = problems(write(tmp_path / "hole.csv", [r for r in rows if r["user"] !=
                                                   USERS[0].user_id or r["date"][:7] != second]))
    assert f"has no transaction in {second}" in found[(2, "date")]


def test_too_few_months_per_user_and_too_few_users(files, tmp_path):
    monthly = rows_of(files["monthly"])
    short = [r for r in monthly if r["user"] != USERS[1].user_id] + [
        r for r in monthly if r["user"] == USERS[1].user_id][:MIN_MONTHS - 1]
    found = problems(write(tmp_path / "short.csv", short))
    line = next(i for i, r in enumerate(short, 2) if r["user"] == USERS[1].user_id)
    assert found == {(line, "user"): f"user {USERS[1].user_id!r} has 5 complete month(s); at "
                     "least 6 are needed: the last 3 are held out to evaluate, and a forecast "
                     "needs 3 before them"}
    few = [r for r in monthly if r["user"] in {u.user_id for u in USERS[:MIN_USERS - 1]}]
    found = problems(write(tmp_path / "few.csv", few))
    assert "4 user(s); at least 5 are needed" in found[(None, "user")]


def logged(history: list[dict], user: str | None, ts: float) -> dict:
    """A row as `LogStore.labelled("spending")` returns it (user ids hashed as logged)."""
    instance = {"history": history, "horizon_months": 3, **({"user_id": user} if user else {})}
    return {"prediction_id": f"p{ts}", "ts": ts, "version": "v1", "served_by": "production",
            "key": None, "user_hash": user, "input": instance,
            "output": {"method": "theta"}, "label": {"month": "2024-01", "amount": 1.0}}


def test_the_retraining_hook_keeps_each_households_latest_history(tmp_path):
    users = generate_users(5, seed=9, min_months=8, max_months=12)
    rows = []
    for i, user in enumerate(users):
        whole = user.transactions
        earlier = [t for t in whole if t["date"] < whole[-1]["date"][:7] + "-01"]
        named = f"h{i}" if i % 2 else None  # some requests named a user id, some did not
        rows += [logged(earlier, named, 1.0), logged(whole, named, 2.0)]
    middle = users[0].transactions[len(users[0].transactions) // 2]["date"][:7]
    holed = [t for t in users[0].transactions if t["date"][:7] != middle]  # forecast as 0 spent
    rows.append(logged(holed, "h-holed", 3.0))
    rows.append(logged(users[1].transactions[:30], "h-short", 3.0))  # under six months
    rows.append({**logged([], None, 4.0), "input": {"user_id": "h9", "horizon_months": 3}})
    out = tmp_path / "retrain.csv"
    written = log_dataset(rows, out, original=False)
    assert written == sum(len(u.transactions) for u in users) + len(holed) + 1
    kind, back = user_histories(out)
    assert kind == "transactions" and len(back) == 6
    assert {u.user_id for u in back} >= {"h1", "h3", "h-holed", "history-0"}
    filled = next(u for u in back if u.user_id == "h-holed").transactions
    assert {"date": f"{middle}-01", "amount": 0.0} in filled
    rows.append(logged(as_monthly(users[2]).transactions, "h-monthly", 5.0))
    both = log_dataset(rows, out, original=True)
    kind, back = user_histories(out)
    assert kind == "monthly" and len(back) == 7 + 60 and both == sum(
        len(u.transactions) for u in back)
    assert isinstance(back[0], SyntheticUser)
