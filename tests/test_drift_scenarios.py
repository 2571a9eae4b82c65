"""Drift scenarios, one per model, through the shipped versions in models/ (`make models`).

Each loads the newest artifact with its service's ServedModel, predicts traffic with it, turns
instances and answers into features with the model's own `drift_features` hook (the call the
prediction log makes) and scores windows against the artifact's reference profile:
- traffic drawn like the training data (the same generator, another seed) stays under the
  warning level (0.3) in every window: the false-alarm rate, printed, is 0 of the windows;
- traffic with a documented shift raises the dataset score over 0.3 within the stated number
  of requests and keeps it there (the window size from which it stays over, in steps, is
  printed).
Results: docs/drift.md. A version trained before profiles existed skips (fails in CI, which
trains fresh).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from itertools import groupby
from typing import Any

import numpy as np
import pytest

from kit.artifacts import ArtifactStore
from kit.drift import WARNING, compare
from kit.model import ServedModel
from kit.profile import batched, reference_profile
from kit.settings import REPO_ROOT

MODELS = REPO_ROOT / "models"
BATCH = 64


def shipped(model: ServedModel) -> dict[str, Any]:
    """Load the newest `models/<name>` version into `model`; its reference profile."""
    store = ArtifactStore(MODELS, model.name)
    if not store.versions():
        _missing(f"no trained {model.name} model in {MODELS} (run `make models`)")
    artifact = store.load()
    profile = reference_profile(artifact.manifest)
    if profile is None:
        _missing(f"{model.name} {artifact.version} predates reference profiles: retrain it "
                 f"(`finfleet train {model.name}`)")
    model.load(artifact)
    return profile


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def features(model: ServedModel, instances: Sequence[Any]) -> list[dict[str, Any]]:
    answers = batched(model.predict, list(instances), BATCH)
    return model.drift_features(list(instances), answers)


def sustained_alarm(profile: dict, rows: list[dict], step: int) -> int | None:
    """The smallest window (a multiple of `step`, from the stream's start) from which every
    larger one tested scores over 0.3: where the alarm stays, not a lucky early crossing."""
    sizes = range(step, len(rows) + 1, step)
    quiet = [n for n in sizes if compare(profile, rows[:n]).score <= WARNING]
    last = max(quiet, default=0)
    return last + step if last + step <= len(rows) else None


def check(name: str, profile: dict, normal: list[list[dict]], shifted: list[dict], step: int,
          within: int) -> None:
    scores = [compare(profile, window).score for window in normal]
    alarms = sum(s > WARNING for s in scores)
    at = sustained_alarm(profile, shifted, step)
    final = compare(profile, shifted[:within])
    print(f"\n{name}: normal windows of {len(normal[0])}: scores {scores} → false alarms "
          f"{alarms}/{len(scores)}; shifted: over {WARNING} from {at} requests on, "
          f"{final.score} at {within} (drifted: {', '.join(final.drifted)})")
    assert alarms == 0, scores
    assert at is not None and at <= within, (at, final.as_dict())


# --- credit: incomes × 0.6 ----------------------------------------------------------------------
def test_credit_incomes_times_0_6():
    from services.credit.data import generate_applications
    from services.credit.model import CreditModel
    from services.credit.settings import CreditSettings

    model = CreditModel(CreditSettings(model_dir=MODELS))
    profile = shipped(model)
    frame = generate_applications(n=2000, seed=1234).frame
    applications = frame.to_dict("records")
    normal = [features(model, applications[k:k + 200]) for k in range(0, 1600, 200)]
    poorer = frame.assign(income=(frame["income"] * 0.6).round(-2)).iloc[1600:]
    shifted = features(model, poorer.to_dict("records"))
    check("credit", profile, normal, shifted, step=25, within=400)


# --- anomaly: the same users paying at other hours ------------------------------------------
def test_anomaly_transactions_at_other_hours():
    """The hour has a daily cycle, so a window is a sample of one whole day's traffic (as the
    prediction log samples it), never the last few hundred transactions of one afternoon."""
    from services.anomaly.data import generate_transactions
    from services.anomaly.model import AnomalyModel
    from services.anomaly.promotion import as_instance, stream_rows
    from services.anomaly.settings import AnomalySettings

    model = AnomalyModel(AnomalySettings(model_dir=MODELS))
    profile = shipped(model)
    df = generate_transactions(n_users=200, days=30, seed=2031)
    rows = stream_rows(df, np.ones(len(df), dtype=bool), cap=len(df))
    days = [list(day) for _, day in groupby(rows, key=lambda r: r["timestamp"][:10])]
    for day in days[:20]:  # the users' profiles, as training's replay builds them
        model.predict([as_instance(r) for r in day])
    rng = np.random.default_rng(11)
    normal = [_sample(rng, features(model, [as_instance(r) for r in day]), 300)
              for day in days[20:27]]
    # Shifted: the last days' transactions eleven hours later (noon → 1 am).
    moved = [{**r, "timestamp": _later(r["timestamp"], hours=11)} for day in days[27:]
             for r in day]
    shifted = _sample(rng, features(model, [as_instance(r) for r in moved]), 300)
    check("anomaly", profile, normal, shifted, step=25, within=300)


def _sample(rng: np.random.Generator, rows: list[dict], n: int) -> list[dict]:
    return [rows[i] for i in rng.choice(len(rows), min(n, len(rows)), replace=False)]


def _later(timestamp: str, hours: int) -> str:
    return (dt.datetime.fromisoformat(timestamp) + dt.timedelta(hours=hours)).isoformat()


# --- spending: histories at 1.8 × the amounts ------------------------------------------------
def test_spending_shifted_history():
    from services.spending.data import generate_users
    from services.spending.model import SpendingModel
    from services.spending.settings import SpendingSettings
    from services.spending.train import profile_instances

    model = SpendingModel(SpendingSettings(model_dir=MODELS))
    profile = shipped(model)
    users = generate_users(120, seed=4242)
    requests = profile_instances(users, count=None)
    normal_rows = features(model, requests[:90])  # a forecast is a Prophet fit: ~0.3 s each
    normal = [normal_rows[k:k + 30] for k in range(0, 90, 30)]
    richer = [{**r, "history": _scaled(r["history"], 1.8)} for r in requests[90:]]
    shifted = features(model, richer)
    check("spending", profile, normal, shifted, step=5, within=30)


def _scaled(history: list[dict], factor: float) -> list[dict]:
    return [{**item, "amount": round(item["amount"] * factor, 2)} for item in history]


OTHER_DOMAIN = REPO_ROOT / "tests" / "fixtures" / "drift_other_domain_queries.txt"


# --- intent: queries from another domain (cooking, travel, sport, tech support, health…) -----
def test_intent_queries_from_another_domain():
    from services.intent.data import in_profile_half, shipped_dataset
    from services.intent.model import IntentModel
    from services.intent.settings import IntentSettings

    model = IntentModel(IntentSettings(model_dir=MODELS))
    profile = shipped(model)
    # Like the training data and never trained on: the holdout half the profile did not take.
    texts = [t for t in shipped_dataset().holdout.texts if not in_profile_half(t)]
    rng = np.random.default_rng(5)
    normal = [features(model, [{"text": texts[i]} for i in
                               rng.choice(len(texts), 60, replace=False)]) for _ in range(5)]
    queries = OTHER_DOMAIN.read_text(encoding="utf-8").splitlines()
    shifted = features(model, [{"text": q} for q in queries if q.strip()])
    check("intent", profile, normal, shifted, step=10, within=80)


# --- ner: bank SMS alerts, a register the generator never writes ------------------------------
SMS = (
    "A/c XX{acct} debited by INR {amount} on {day}-{month}-24. Info: UPI/{ref}/{merchant}. "
    "Avl Bal INR {balance}. Not you? Call 1800{ref4}",
    "Dear Customer, Rs.{amount} spent on your Credit Card ending {acct} at {merchant} on "
    "{day}/{mon}/2024 {hh}:{mm}:00. Avl Lmt Rs.{balance}",
    "ALERT: NEFT of INR {amount} credited to A/c no. XXXXXX{acct} on {day}{month}24 "
    "Ref No {ref}. Bal: INR {balance} -Bank",
    "OTP {otp} for txn of Rs {amount} at {merchant} on card XX{acct}. Valid 10 mins. "
    "Do not share OTP with anyone.",
    "Your EMI of Rs.{amount} for loan a/c {ref} is due on {day}-{month}-2024. Pls maintain "
    "sufficient bal in a/c XX{acct} to avoid charges.",
)
SMS_MERCHANTS = ("AMAZON PAY", "SWIGGY*ORDER", "IRCTC WEB", "BIGBASKET", "PAYTM*UTILITY",
                 "HPCL FUEL 0231", "ZOMATO LTD", "FLIPKART INT")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def sms_alerts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        month = int(rng.integers(1, 13))
        out.append(str(rng.choice(SMS)).format(
            acct=rng.integers(1000, 9999), amount=f"{rng.uniform(50, 90000):,.2f}",
            day=f"{rng.integers(1, 29):02d}", month=MONTHS[month - 1], mon=f"{month:02d}",
            ref=rng.integers(10**9, 10**10), ref4=rng.integers(1000, 9999),
            merchant=rng.choice(SMS_MERCHANTS), balance=f"{rng.uniform(100, 500000):,.2f}",
            hh=f"{rng.integers(0, 24):02d}", mm=f"{rng.integers(0, 60):02d}",
            otp=rng.integers(100000, 999999)))
    return out


def test_ner_sentences_of_another_register():
    from services.ner.generator import generate
    from services.ner.model import NerModel
    from services.ner.settings import NerSettings

    model = NerModel(NerSettings(model_dir=MODELS))
    profile = shipped(model)
    sentences = [{"text": s.text} for s in generate(750, seed=4711)]
    normal_rows = features(model, sentences)
    normal = [normal_rows[k:k + 150] for k in range(0, 750, 150)]
    shifted = features(model, [{"text": t} for t in sms_alerts(150, seed=3)])
    check("ner", profile, normal, shifted, step=10, within=150)
