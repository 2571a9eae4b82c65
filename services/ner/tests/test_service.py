"""The ner service over HTTP: entities, offsets, normalised values, limits and errors."""

from __future__ import annotations

import re

import pytest
import spacy

from kit.testing import running_client
from services.ner.app import build_app
from services.ner.model import PIPELINE_DIR
from services.ner.patterns import ruler_patterns

PREDICT = "/v1/models/ner:predict"


async def predict(client, instances):
    response = await client.post(PREDICT, json={"instances": instances})
    assert response.status_code == 200, response.text
    return response.json()


def found(prediction) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in prediction["entities"]:
        out.setdefault(e["label"], []).append(e["text"])
    return out


def test_ruler_patterns_survive_initialize_and_reload(trained):
    nlp = spacy.load(trained.file(PIPELINE_DIR))
    assert len(nlp.get_pipe("entity_ruler").patterns) == len(ruler_patterns())
    assert nlp.pipe_names == ["entity_ruler", "ner", "merchant_lexicon", "entity_sanity"]
    tokens = [t.text for t in nlp("Rs.250 and 5k")]
    assert "250" in tokens and tokens[-2:] == ["5", "k"]


@pytest.mark.parametrize(
    ("text", "label", "span"),
    [
        ("Paid ₹5,000 to Swiggy yesterday", "MONEY", "₹5,000"),
        ("Paid ₹5,000 to Swiggy yesterday", "DATE", "yesterday"),
        ("Paid Rs. 640 to Zomato using my HDFC credit card", "MERCHANT", "Zomato"),
        ("Paid Rs. 640 to Zomato using my HDFC credit card", "ACCOUNT", "HDFC credit card"),
        ("How much did I spend on groceries last month?", "CATEGORY", "groceries"),
        ("How much did I spend on groceries last month?", "DATE", "last month"),
        ("Move 2 crore rupees to my PPF account", "MONEY", "2 crore rupees"),
        ("Paid 300 to Myntra from my SBI debit card", "MERCHANT", "Myntra"),
        ("paid 250 to zomato via Paytm", "MERCHANT", "zomato"),
    ],
)
async def test_each_label_found_in_clear_cases(settings, text, label, span):
    async with running_client(build_app(settings)) as client:
        body = await predict(client, [{"text": text}])
    assert span in found(body["predictions"][0]).get(label, [])


async def test_offsets_slice_back_and_values_are_normalised(settings):
    text = "Spent INR 1.2 lakh on travel last month and €35 on 2024-11-03"
    async with running_client(build_app(settings)) as client:
        body = await predict(client, [{"text": text, "reference_date": "2025-03-15"}])
    assert body["model_name"] == "ner" and body["model_version"]
    prediction = body["predictions"][0]
    assert prediction["reference_date"] == "2025-03-15"
    for e in prediction["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]
    by_text = {e["text"]: e for e in prediction["entities"]}
    assert by_text["INR 1.2 lakh"]["value"] == {"amount": 120000.0, "currency": "INR"}
    assert by_text["€35"]["value"] == {"amount": 35.0, "currency": "EUR"}
    assert by_text["last month"]["value"] == {"start": "2025-02-01", "end": "2025-02-28"}
    assert by_text["2024-11-03"]["value"] == {"start": "2024-11-03", "end": "2024-11-03"}


async def test_report_text_keeps_money_and_dates_to_plausible_shapes(settings):
    """Whatever the trained `ner` proposes in prose unlike its chat data, the gate lets through
    only currency-marked or bare amounts, and dates with a date word or shape."""
    text = ("NET SALES Net sales of the Company rose 12.5 % to approximately $ 1.2 billion in "
            "fiscal 2019 , while Form 10-K filings list 4,300 employees under the 2019 Equity "
            "Incentive Plan as of December 31 , 2019 .")
    async with running_client(build_app(settings)) as client:
        body = await predict(client, [text])
    entities = found(body["predictions"][0])
    assert "$ 1.2 billion" in entities["MONEY"]
    assert {"fiscal 2019", "December 31 , 2019"} <= set(entities["DATE"])
    assert all(re.fullmatch(r"[\d,.]+( \w+)?", m) or re.search(r"[$₹€£]|rs|inr|usd", m.lower())
               for m in entities["MONEY"])
    assert not [d for d in entities["DATE"] if not re.search(r"\d|year|quarter|month", d.lower())]
    assert "2019" not in entities["DATE"]  # the plan's name, not a date


async def test_unicode_offsets_are_character_offsets(settings):
    text = "😀 नमस्ते! Paid ₹1,200 and €40 today"
    async with running_client(build_app(settings)) as client:
        body = await predict(client, [text])
    entities = body["predictions"][0]["entities"]
    money = [e for e in entities if e["label"] == "MONEY"]
    assert [e["text"] for e in money] == ["₹1,200", "€40"]
    for e in entities:
        assert text[e["start"]:e["end"]] == e["text"]


async def test_empty_text_has_no_entities(settings):
    async with running_client(build_app(settings)) as client:
        body = await predict(client, [{"text": ""}, {"text": "   "}])
    assert [p["entities"] for p in body["predictions"]] == [[], []]


async def test_over_long_text_is_a_422_naming_the_field(settings):
    async with running_client(build_app(settings)) as client:
        response = await client.post(
            PREDICT, json={"instances": [{"text": "ok"}, {"text": "x" * 501}]})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["instances[1].text"]


@pytest.mark.parametrize(
    ("instance", "field"),
    [({"text": "hi", "reference_date": "15/03/2025"}, "instances[0].reference_date"),
     ({"txt": "hi"}, "instances[0].text"), ({"text": 42}, "instances[0].text")],
)
async def test_bad_instances_are_422_naming_the_field(settings, instance, field):
    async with running_client(build_app(settings)) as client:
        response = await client.post(PREDICT, json={"instances": [instance]})
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_batch_keeps_request_order(settings):
    texts = [f"Paid ₹{100 + i} to Swiggy" if i % 2 else "hello there" for i in range(12)]
    async with running_client(build_app(settings)) as client:
        body = await predict(client, texts)
    assert len(body["predictions"]) == 12
    for i, prediction in enumerate(body["predictions"]):
        money = [e["value"]["amount"] for e in prediction["entities"] if e["label"] == "MONEY"]
        assert money == ([100.0 + i] if i % 2 else [])


async def test_metadata_describes_the_model(settings, trained):
    async with running_client(build_app(settings)) as client:
        response = await client.get("/v1/models/ner")
    body = response.json()
    assert response.status_code == 200
    assert body["version"] == trained.version
    assert body["input_schema"]["properties"]["text"]["type"] == "string"


@pytest.mark.parametrize(("text", "reference"), [
    ("paid 500 tomorrow", "9999-12-31"), ("paid 500 yesterday", "0001-01-01"),
    ("saving for next year", "9999-06-01")])
async def test_reference_dates_at_the_calendars_edges_answer_200(settings, text, reference):
    """Used to be a 500 (OverflowError in date arithmetic): the date is found, its value None."""
    async with running_client(build_app(settings)) as client:
        body = await predict(client, [{"text": text, "reference_date": reference}])
    dates = [e for e in body["predictions"][0]["entities"] if e["label"] == "DATE"]
    assert dates and all(e["value"] is None for e in dates)
