"""The credit service over HTTP (in-process): answers, reasons, and every error path."""


import numpy as np
import pytest

from kit.testing import running_client
from services.credit.app import build_app
from services.credit.model import logit
from services.credit.settings import CreditSettings

PREDICT = "/v1/models/credit:predict"


@pytest.fixture
async def client(model_dir):
    app = build_app(CreditSettings(model_dir=model_dir, max_instances=8, max_body_bytes=4096))
    async with running_client(app) as client:
        client.app = app
        yield client


async def test_predicts_probability_score_band_and_reasons(client, application):
    response = await client.post(PREDICT, json={"instances": [application]})
    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "credit"
    assert body["model_version"] == client.app.state.model_state.model.version
    (pred,) = body["predictions"]
    assert 0 < pred["probability_of_default"] < 1
    assert pred["risk_score"] == round(100 * pred["probability_of_default"])
    assert pred["band"] in {"low", "medium", "high"}
    decisions = {"low": "approve", "medium": "review", "high": "decline"}
    assert pred["decision"] == decisions[pred["band"]]
    assert len(pred["reasons"]) == 3
    for reason in pred["reasons"]:
        assert reason["direction"] == (
            "increases_risk" if reason["contribution"] > 0 else "decreases_risk")


async def test_riskier_application_scores_higher(client, application):
    risky = {**application, "delinquencies": 6, "utilisation": 1.2, "income": 20000,
             "existing_emis": 9000, "employment_type": "gig"}
    response = await client.post(PREDICT, json={"instances": [application, risky]})
    safe_pred, risky_pred = response.json()["predictions"]
    assert risky_pred["probability_of_default"] > safe_pred["probability_of_default"]
    top = {r["feature"] for r in risky_pred["reasons"] if r["direction"] == "increases_risk"}
    assert top & {"delinquencies", "utilisation", "debt_to_income", "emi_to_income",
                  "employment_type", "income"}


async def test_reasons_are_consistent_with_the_probability(client, application):
    """Contributions + bias reproduce the model's margin: the reasons explain this very score."""
    model = client.app.state.model_state.model
    rows = [application, {**application, "delinquencies": 3, "age": 23}]
    x = model.spec.encode(rows)
    margin = model.scorer.contributions(x).sum(axis=1) + model.scorer.bias
    np.testing.assert_allclose(margin, logit(model.scorer.raw_probability(x)), atol=1e-4)
    pred = (await client.post(PREDICT, json={"instances": rows[:1]})).json()["predictions"][0]
    contributions = [abs(r["contribution"]) for r in pred["reasons"]]
    assert contributions == sorted(contributions, reverse=True)


async def test_batch_order_is_preserved(client, application):
    rows = [{**application, "delinquencies": d} for d in (0, 4, 1)]
    batch = (await client.post(PREDICT, json={"instances": rows})).json()["predictions"]
    singles = [(await client.post(PREDICT, json={"instances": [r]})).json()["predictions"][0]
               for r in rows]
    assert batch == singles


async def test_metadata_has_provenance_metrics_and_schema(client):
    body = (await client.get("/v1/models/credit")).json()
    assert body["name"] == "credit"
    assert len(body["data_sha256"]) == 64
    assert body["metrics"]["holdout"]["auc"] > 0.6
    schema = body["input_schema"]
    assert schema["properties"]["employment_type"]["enum"][0] == "salaried"
    assert set(schema["derived"]) == {"debt_to_income", "emi_to_income", "loan_to_income"}


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"age": "thirty"}, "instances[0].age", "number_type"),
        ({"age": 12}, "instances[0].age", "greater_than_equal"),
        ({"utilisation": 9.0}, "instances[0].utilisation", "less_than_equal"),
        ({"employment_type": "astronaut"}, "instances[0].employment_type", "enum"),
        ({"favourite_colour": "blue"}, "instances[0].favourite_colour", "extra_forbidden"),
        ({"income": None}, "instances[0].income", "number_type"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(client, application, change, field, kind):
    body = _problem(await client.post(PREDICT, json={"instances": [{**application, **change}]}),
                    422)
    assert {"field": field, "type": kind} == {k: body["errors"][0][k] for k in ("field", "type")}


async def test_missing_field_is_422(client, application):
    incomplete = {k: v for k, v in application.items() if k != "tenure_months"}
    body = _problem(await client.post(PREDICT, json={"instances": [incomplete]}), 422)
    assert body["errors"] == [
        {"field": "instances[0].tenure_months", "message": "field required", "type": "missing"}]
