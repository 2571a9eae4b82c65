"""The spending model's promotion gate (kit/gate.py; docs/gate.md).

Criterion: sMAPE of the horizon forecast (the M3 competition's, in percent; one term per
series, so the bootstrap resamples series) on two sets:
- `holdout`: the candidate's training households, each forecast from its history up to the
  held-out months (`holdout.jsonl`, written by train.py). Histories are stored compactly on
  the path the service takes for them: monthly totals from two years on (the service then
  forecasts monthly totals whatever it is sent), daily totals below that (what the service
  builds from transactions), so the forecasts are the ones the training evaluation scored;
- `golden`: `golden/series.json`, monthly totals of 16 fixed households with their last three
  months held out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from kit.artifacts import Artifact
from kit.gate import (
    NO_HOLDOUT,
    Criterion,
    EvaluationSet,
    GateSpec,
    holdout_source,
    mean,
    predict_all,
    read_holdout,
)
from kit.model import ServedModel
from services.spending.evaluation import smape
from services.spending.forecaster import ForecastConfig
from services.spending.history import SpendingHistory

GOLDEN = Path(__file__).with_name("golden") / "series.json"

CRITERIA = (Criterion("smape", "lower", tolerance=1.0, title="sMAPE (%)"),)
METRICS = {"smape": mean("smape")}


def holdout_row(user_id: str, history: SpendingHistory, actual: np.ndarray,
                config: ForecastConfig) -> dict[str, Any]:
    """One household's holdout case as the smallest request that forecasts it the same way."""
    row: dict[str, Any] = {"id": user_id, "actual": [round(float(v), 2) for v in actual]}
    if history.months >= config.prophet_min_months or history.daily is None:
        row["history"] = [{"month": str(p), "amount": round(float(v), 2)}
                          for p, v in history.monthly.items()]
    else:
        row["history"] = [{"date": d.date().isoformat(), "amount": round(float(v), 2)}
                          for d, v in history.daily.items() if v > 0]
        row["as_of"] = history.monthly.index[-1].end_time.date().isoformat()
    return row


def golden_rows(path: Path = GOLDEN) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["series"]


def evaluation_sets(candidate: Artifact) -> tuple[list[EvaluationSet], list[str]]:
    sets, notes = [], []
    holdout = read_holdout(candidate)
    if holdout:
        sets.append(EvaluationSet("holdout", holdout, holdout_source(candidate)))
    else:
        notes.append(NO_HOLDOUT)
    sets.append(EvaluationSet("golden", golden_rows(), "services/spending/golden/series.json"))
    return sets, notes


def outcomes(model: ServedModel, eval_set: EvaluationSet) -> dict[str, np.ndarray]:
    instances = [{"history": r["history"], "horizon_months": len(r["actual"]),
                  **({"as_of": r["as_of"]} if "as_of" in r else {})} for r in eval_set.rows]
    answers = predict_all(model, instances, batch_size=8)
    terms = [smape(np.array(r["actual"]), np.array([m["yhat"] for m in a["forecast"]]))
             for r, a in zip(eval_set.rows, answers, strict=True)]
    return {"smape": np.array(terms)}


GATE = GateSpec(criteria=CRITERIA, metrics=METRICS, evaluation_sets=evaluation_sets,
                outcomes=outcomes)
