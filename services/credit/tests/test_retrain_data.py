"""credit's retraining file: logged applications with their outcome, in the own-data CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kit.datafiles import DataError
from kit.retrain import LogDataError
from services.credit import retrain_data
from services.credit.data import check_user_data, generate_applications, load_csv


def labelled(n: int = 30) -> list[dict]:
    """Records as LogStore.labelled returns them (a fake log: input, output, label)."""
    shipped = generate_applications(n=n, seed=99)
    return [{"prediction_id": f"p{i}", "model": "credit", "served_by": "production",
             "input": app, "output": {"probability_of_default": 0.1}, "label": bool(y),
             "labelled_at": 1000.0 + i}
            for i, (app, y) in enumerate(zip(shipped.frame.to_dict("records"), shipped.target,
                                             strict=True))]


def test_log_only_writes_each_application_with_its_outcome(tmp_path: Path) -> None:
    records = labelled(150)  # 14 defaults: enough of each class to train on
    records.append({**records[0], "label": "not a bool"})  # a label of another shape: left out
    out = tmp_path / "log.csv"
    assert retrain_data.log_dataset(records, out, original=False) == 150
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == [*records[0]["input"], "defaulted"]
    assert [int(r["defaulted"]) for r in rows] == [int(r["label"]) for r in records[:150]]
    assert float(rows[3]["income"]) == records[3]["input"]["income"]
    check_user_data(out, {"target": "defaulted"})  # the trainer service's check accepts it
    retrain_data.log_dataset(labelled(30), out, original=False)  # 1 default: refused up front
    with pytest.raises(DataError, match="1 of 1"):
        check_user_data(out, {"target": "defaulted"})


def test_with_original_the_shipped_rows_come_first_and_the_served_schema_is_kept(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(retrain_data, "ORIGINAL_ROWS", 200)
    out = tmp_path / "log.csv"
    assert retrain_data.log_dataset(labelled(), out, original=True) == 230
    dataset = load_csv(out, "defaulted")
    assert len(dataset.target) == 230
    # The served schema, not ranges read off the file: the ratios and all employment types.
    assert [r.name for r in dataset.spec.ratios] == ["debt_to_income", "emi_to_income",
                                                     "loan_to_income"]
    assert dataset.spec.fields[-1].values == ("salaried", "self_employed", "business", "gig",
                                              "unemployed")


def test_records_of_another_schema_cannot_join_the_generated_set(tmp_path: Path) -> None:
    other = [{**r, "input": {"duration_months": 12, "credit_amount": 900}} for r in labelled(3)]
    with pytest.raises(LogDataError, match="--log-only"):
        retrain_data.log_dataset(other, tmp_path / "x.csv", original=True)
    with pytest.raises(LogDataError, match="no labelled record"):
        retrain_data.log_dataset([], tmp_path / "x.csv", original=False)
