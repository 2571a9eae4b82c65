import datetime as dt

import pytest

from kit.testing import running_client
from services.spending.app import build_app
from services.spending.settings import SpendingSettings

from .conftest import daily_transactions, monthly_history

PREDICT = "/v1/models/spending:predict"


@pytest.fixture
async def client(model_dir):
    settings = SpendingSettings(model_dir=model_dir, max_history_points=3000, log_level="WARNING")
    async with running_client(build_app(settings)) as client:
        yield client


def assert_problem(response, status: int, field: str):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json().get("errors", [])]
    assert field in fields, fields


async def test_monthly_history_forecast(client):
    body = {"instances": [{"history": monthly_history(30), "horizon_months": 3}]}
    response = await client.post(PREDICT, json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["model_name"] == "spending"
    assert payload["model_version"] != "unloaded"
    [answer] = payload["predictions"]
    assert [m["month"] for m in answer["forecast"]] == ["2021-07", "2021-08", "2021-09"]
    assert answer["method"].startswith(("prophet", "theta"))
    assert answer["interval_width"] == 0.8
    assert answer["history_months"] == 30 and answer["history_kind"] == "monthly"
    for month in answer["forecast"]:
        assert 0 <= month["lower"] <= month["yhat"] <= month["upper"]
    assert answer["total"]["yhat"] == pytest.approx(
        sum(m["yhat"] for m in answer["forecast"]), abs=0.05)
    assert answer["cached"] is False


async def test_repeated_request_is_served_from_cache(client):
    body = {"instances": [{"history": monthly_history(26, seed=5), "horizon_months": 4,
                           "interval_width": 0.9}]}
    first = (await client.post(PREDICT, json=body)).json()["predictions"][0]
    second = (await client.post(PREDICT, json=body)).json()["predictions"][0]
    assert first["cached"] is False and second["cached"] is True
    assert {k: v for k, v in first.items() if k != "cached"} == \
        {k: v for k, v in second.items() if k != "cached"}
    cache = (await client.get("/v1/models/spending")).json()["cache"]
    assert cache["hits"] >= 1 and cache["entries"] >= 1
    other = {"instances": [{**body["instances"][0], "horizon_months": 5}]}
    assert (await client.post(PREDICT, json=other)).json()["predictions"][0]["cached"] is False


async def test_ingest_then_forecast_by_user_id(client):
    transactions = daily_transactions("2024-01-01", "2024-06-30")
    # two batches, the later one older: the store sorts when it reads
    second, first = transactions[:90], transactions[90:]
    response = await client.post("/v1/users/u-42/transactions", json={"transactions": first})
    assert response.status_code == 201, response.text
    assert response.json() == {"user_id": "u-42", "accepted": len(first), "stored": len(first)}
    response = await client.post("/v1/users/u-42/transactions", json={"transactions": second})
    assert response.json()["stored"] == len(transactions)
    body = {"instances": [{"user_id": "u-42", "horizon_months": 2, "by_category": True}]}
    response = await client.post(PREDICT, json=body)
    assert response.status_code == 200, response.text
    [answer] = response.json()["predictions"]
    assert answer["history_kind"] == "transactions" and answer["history_months"] == 6
    assert [m["month"] for m in answer["forecast"]] == ["2024-07", "2024-08"]
    assert set(answer["categories"]) == {"food", "travel"}
    for i in range(2):
        parts = sum(c["forecast"][i]["yhat"] for c in answer["categories"].values())
        assert parts == pytest.approx(answer["forecast"][i]["yhat"], rel=1e-3)
    inline = {"instances": [{"history": transactions, "horizon_months": 2, "by_category": True}]}
    same = (await client.post(PREDICT, json=inline)).json()["predictions"][0]
    assert same["forecast"] == answer["forecast"]


async def test_unknown_user_is_422(client):
    response = await client.post(PREDICT, json={"instances": [{"user_id": "nobody",
                                                               "horizon_months": 3}]})
    assert_problem(response, 422, "instances[0].user_id")


@pytest.mark.parametrize(("instance", "field"), [
    ({"history": [], "horizon_months": 3}, "instances[0].history"),
    ({"history": monthly_history(12), "horizon_months": -1}, "instances[0].horizon_months"),
    ({"history": monthly_history(12), "horizon_months": 13}, "instances[0].horizon_months"),
    ({"history": monthly_history(12)[::-1], "horizon_months": 3},
     "instances[0].history[1].month"),
    ({"history": [{"date": "2024-01-01", "amount": 5}, {"date": "2999-01-01", "amount": 5}],
      "horizon_months": 3}, "instances[0].history[1].date"),
    ({"history": daily_transactions("2020-01-01", "2029-12-31")[:3001], "horizon_months": 3},
     "instances[0].history"),
    ({"history": [{"date": "2024-01-01", "amount": -5}], "horizon_months": 3},
     "instances[0].history.0.amount"),
    ({"history": monthly_history(12), "user_id": "u1", "horizon_months": 3}, "instances[0]"),
    ({"history": monthly_history(12), "horizon_months": 3, "colour": "red"},
     "instances[0].colour"),
])
async def test_bad_requests_are_422_naming_the_field(client, instance, field):
    response = await client.post(PREDICT, json={"instances": [instance]})
    assert_problem(response, 422, field)


async def test_bad_ingest_is_422(client, today):
    future = (today + dt.timedelta(days=3)).isoformat()
    response = await client.post("/v1/users/u1/transactions", json={"transactions": [
        {"date": "2024-01-01", "amount": 5}, {"date": future, "amount": 5}]})
    assert_problem(response, 422, "transactions[1].date")
    response = await client.post("/v1/users/u1/transactions",
                                 json={"transactions": [{"date": "2024-01-01", "amount": "x"}]})
    assert_problem(response, 422, "transactions.0.amount")
    response = await client.post("/v1/users/bad%20id/transactions",
                                 json={"transactions": [{"date": "2024-01-01", "amount": 1}]})
    assert_problem(response, 422, "path.user_id")


async def test_metadata_describes_the_artifact(client):
    meta = (await client.get("/v1/models/spending")).json()
    assert meta["name"] == "spending" and meta["version"]
    assert "weight_prophet_daily" in meta["parameters"]["forecast"]
    assert {"monthly", "short"} <= set(meta["metrics"])
    assert "horizon_months" in meta["input_schema"]["properties"]
