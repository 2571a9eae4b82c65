from pathlib import Path

import pytest

from services.credit.data import generate_applications
from services.credit.train import TrainConfig, train


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """One quick model for the whole session (a few seconds)."""
    root = tmp_path_factory.mktemp("models")
    quick = TrainConfig(folds=3, search_budget=1, quick=True, max_trees=80)
    train(generate_applications(n=3000), root, quick, progress=False)
    return root


@pytest.fixture
def application() -> dict:
    return {
        "age": 35, "income": 85000, "loan_amount": 500000, "tenure_months": 36,
        "existing_emis": 5000, "credit_history_months": 60, "delinquencies": 0,
        "utilisation": 0.3, "employment_type": "salaried",
    }
