"""Training data: a seeded generator of Indian retail-loan applications, and loaders for
UCI German Credit and any CSV with a binary target. Training only (pandas is fine here)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit.datafiles import DataError, Problem, csv_rows
from kit.settings import SHARED_DATA
from services.credit.features import FeatureSpec, Field, Ratio, emi

GERMAN_DIR = SHARED_DATA / "german_credit"

EMPLOYMENT_TYPES = ("salaried", "self_employed", "business", "gig", "unemployed")

GENERATED_FIELDS = [
    Field("age", "numeric", 18, 100, description="applicant age in years"),
    Field("income", "numeric", 0, 10_000_000, description="net monthly income, INR"),
    Field("loan_amount", "numeric", 1_000, 100_000_000, description="principal asked for, INR"),
    Field("tenure_months", "numeric", 3, 360, description="loan tenure in months"),
    Field("existing_emis", "numeric", 0, 10_000_000, description="EMIs already paid monthly, INR"),
    Field("credit_history_months", "numeric", 0, 720,
          description="months since the first credit line"),
    Field("delinquencies", "numeric", 0, 100,
          description="payments 30+ days late in the last 24 months"),
    Field("utilisation", "numeric", 0, 5, description="revolving balance / credit limit"),
    Field("employment_type", "categorical", values=EMPLOYMENT_TYPES,
          description="how the applicant earns"),
]
GENERATED_RATIOS = [
    Ratio("debt_to_income", ("existing_emis", "new_emi"), "income",
          "all monthly EMIs (existing + this loan) / monthly income"),
    Ratio("emi_to_income", ("new_emi",), "income", "this loan's EMI / monthly income"),
    Ratio("loan_to_income", ("loan_amount",), "annual_income", "loan amount / annual income"),
]


@dataclass
class Dataset:
    """Raw rows, the target (1 = default / bad), the schema, and where it came from."""

    name: str
    frame: pd.DataFrame
    target: np.ndarray
    spec: FeatureSpec
    sha256: str
    sensitive: dict[str, np.ndarray]
    cost_fn: float = 5.0
    cost_fp: float = 1.0


def generate_applications(n: int = 20_000, seed: int = 7) -> Dataset:
    """Loan applications with a plausible default mechanism (~12% defaults), fixed seed."""
    rng = np.random.default_rng(seed)
    employment = rng.choice(EMPLOYMENT_TYPES, size=n, p=[0.55, 0.17, 0.13, 0.11, 0.04])
    age = np.clip(rng.normal(36, 10, n), 21, 70).round()
    base_income = rng.lognormal(np.log(55_000), 0.6, n)
    income_factor = pd.Series(employment).map(
        {"salaried": 1.0, "self_employed": 1.1, "business": 1.3, "gig": 0.6, "unemployed": 0.25}
    ).to_numpy()
    income = (base_income * income_factor * (0.7 + 0.012 * (age - 21))).round(-2)
    tenure = rng.choice([12, 24, 36, 48, 60, 84, 120, 180, 240], size=n,
                        p=[0.12, 0.18, 0.2, 0.12, 0.14, 0.08, 0.06, 0.05, 0.05])
    loan_amount = (income * rng.lognormal(np.log(8), 0.8, n) * np.sqrt(tenure / 36)).round(-3)
    loan_amount = np.clip(loan_amount, 10_000, 50_000_000)
    existing_emis = (income * rng.beta(1.2, 5, n) * (rng.random(n) < 0.6)).round(-2)
    history = np.clip((age - 21) * 12 * rng.beta(2, 2, n), 0, None).round()
    utilisation = np.clip(rng.beta(2, 4, n) + 0.3 * (rng.random(n) < 0.1), 0, 1.5).round(3)
    latent_risk = rng.normal(0, 1, n)
    delinquencies = rng.poisson(np.exp(-1.6 + 0.8 * latent_risk + 1.2 * utilisation))
    frame = pd.DataFrame({
        "age": age, "income": income, "loan_amount": loan_amount, "tenure_months": tenure,
        "existing_emis": existing_emis, "credit_history_months": history,
        "delinquencies": delinquencies, "utilisation": utilisation,
        "employment_type": employment,
    })
    dti = (existing_emis + emi(loan_amount, tenure.astype(float))) / income
    logit = (
        -2.9 + 2.2 * np.clip(dti - 0.35, 0, 2) + 0.45 * np.minimum(delinquencies, 5)
        + 1.3 * np.clip(utilisation - 0.5, 0, 1) - 0.012 * np.minimum(history, 120)
        + 0.02 * np.maximum(28 - age, 0) * 3 + 0.55 * latent_risk
        + pd.Series(employment).map({"salaried": 0.0, "self_employed": 0.25, "business": 0.2,
                                     "gig": 0.6, "unemployed": 1.4}).to_numpy()
    )
    target = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    spec = FeatureSpec.build(GENERATED_FIELDS, GENERATED_RATIOS)
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame).values.tobytes()).hexdigest()
    return Dataset(f"generated(n={n},seed={seed})", frame, target, spec, digest,
                   {"age": age})


# --- UCI German Credit ---------------------------------------------------------------------
GERMAN_COLUMNS = [
    ("checking_status", "categorical"), ("duration_months", "numeric"),
    ("credit_history", "categorical"), ("purpose", "categorical"),
    ("credit_amount", "numeric"), ("savings", "categorical"),
    ("employment_since", "categorical"), ("installment_rate", "numeric"),
    ("personal_status_sex", "categorical"), ("other_debtors", "categorical"),
    ("residence_since", "numeric"), ("property", "categorical"), ("age", "numeric"),
    ("other_installment_plans", "categorical"), ("housing", "categorical"),
    ("existing_credits", "numeric"), ("job", "categorical"),
    ("people_liable", "numeric"), ("telephone", "categorical"),
    ("foreign_worker", "categorical"),
]
GERMAN_RATIOS = [Ratio("amount_per_month", ("credit_amount",), "duration_months",
                       "credit amount / duration")]


def german_code_names(doc_path: Path) -> dict[str, str]:
    """Map codes such as A11 to readable slugs such as `lt_0_dm`, read from german.doc."""
    names: dict[str, str] = {}
    current: str | None = None
    for line in doc_path.read_text(errors="replace").splitlines():
        match = re.match(r"^\s*(A\d+)\s*:\s*(.*)$", line)
        if match:
            current = match.group(1)
            names[current] = match.group(2)
        elif current and line.strip() and line.startswith(("\t\t", " " * 16)):
            names[current] += " " + line.strip()
        else:
            current = None
    return {code: _slug(text) for code, text in names.items()}


def _slug(text: str) -> str:
    text = re.sub(r"(\S+)\s*<=\s*\.+\s*<\s*", r"\1 to ", text)
    text = re.sub(r"\.+\s*<\s*", "lt ", text)
    text = re.sub(r"\.+\s*>=\s*", "ge ", text)
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return text[:48] or "unknown"


def load_german(directory: Path = GERMAN_DIR) -> Dataset:
    data_path = directory / "german.data"
    if not data_path.is_file():
        raise FileNotFoundError(f"German Credit not found at {data_path} (see SOURCE.md)")
    codes = german_code_names(directory / "german.doc")
    raw = pd.read_csv(data_path, sep=r"\s+", header=None)
    frame = pd.DataFrame()
    fields = []
    for idx, (name, kind) in enumerate(GERMAN_COLUMNS):
        col = raw[idx]
        if kind == "categorical":
            frame[name] = col.map(lambda c: codes.get(c, c))
            fields.append(Field(name, kind, values=tuple(sorted(frame[name].unique()))))
        else:
            frame[name] = col.astype(float)
            fields.append(_numeric_field(name, frame[name]))
    target = (raw[20] == 2).astype(np.int64).to_numpy()
    sex = np.where(raw[8].isin(["A92", "A95"]), "female", "male")
    spec = FeatureSpec.build(fields, GERMAN_RATIOS)
    digest = hashlib.sha256(data_path.read_bytes()).hexdigest()
    return Dataset("german_credit", frame, target, spec, digest,
                   {"age": frame["age"].to_numpy(), "sex": sex}, cost_fn=5.0, cost_fp=1.0)


# The stratified 20 % holdout and 5-fold CV each need every class in every part: fewer rows of a
# class leave a fold with one class, whose AUC is undefined (the search then finds no model).
MIN_ROWS_PER_CLASS = 10


def load_csv(path: Path, target: str) -> Dataset:
    """Any CSV with a 0/1 target column; text columns become categorical features."""
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise ValueError(f"target column {target!r} not in {path} (columns: {list(frame.columns)})")
    y = frame.pop(target)
    values = sorted(y.dropna().unique().tolist())
    if len(values) != 2:
        raise ValueError(f"target {target!r} must have exactly two values, found {values}")
    frame = frame.dropna()
    y = y.loc[frame.index]
    counts = {v: int((y == v).sum()) for v in values}
    if min(counts.values()) < MIN_ROWS_PER_CLASS:
        raise ValueError(f"target {target!r} needs at least {MIN_ROWS_PER_CLASS} complete rows "
                         f"of each value to train, cross-validate and hold out; found "
                         + ", ".join(f"{n} of {v!r}" for v, n in counts.items()))
    fields = []
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = frame[name].astype(float)
            fields.append(_numeric_field(name, frame[name]))
        else:
            frame[name] = frame[name].astype(str)
            fields.append(Field(name, "categorical", values=tuple(sorted(frame[name].unique()))))
    sensitive = {"age": frame["age"].to_numpy()} if "age" in frame.columns else {}
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return Dataset(Path(path).name, frame.reset_index(drop=True),
                   (y == values[1]).astype(np.int64).to_numpy(), _served_spec(frame, fields),
                   digest, sensitive)


def _served_spec(frame: pd.DataFrame, fields: list[Field]) -> FeatureSpec:
    """A CSV with exactly the generated applications' columns (retraining writes one from the
    prediction log: services/credit/retrain_data.py) keeps the served schema — its ranges,
    employment types and derived ratios — so the new version takes the requests production
    takes and scores the golden set; any other CSV gets ranges from its own data."""
    generated = [f.name for f in GENERATED_FIELDS]
    if list(frame.columns) != generated or not frame["employment_type"].isin(
            EMPLOYMENT_TYPES).all():
        return FeatureSpec.build(fields)
    spec = FeatureSpec.build(GENERATED_FIELDS, GENERATED_RATIOS)
    problems = spec.validate(frame.to_dict("records"))
    return FeatureSpec.build(fields) if problems else spec


def _numeric_field(name: str, values: pd.Series) -> Field:
    """Accepted range: the observed range widened by its own span (never below 0 if data isn't)."""
    low, high = float(values.min()), float(values.max())
    span = max(high - low, 1.0)
    minimum = 0.0 if low >= 0 else low - span
    return Field(name, "numeric", minimum, high + span)



def check_user_data(path: Path, parameters: dict | None = None) -> None:
    """What the trainer service runs before it queues a job: the CSV loads with its target
    column (a 422 naming the column instead of a failed job)."""
    target = (parameters or {}).get("target")
    if not target:
        raise DataError(path, [Problem("a credit CSV needs parameters.target, the name of its "
                                       "0/1 label column", 1)])
    try:
        header = next(csv_rows(path, (target,)), None)
        if header is None:
            raise DataError(path, [Problem("no data rows after the header", 2)])
        load_csv(path, target)
    except DataError:
        raise
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(path, [Problem(str(exc), None, target)]) from exc
