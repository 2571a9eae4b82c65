"""Answers equal with adaptive batching on and off (kit/batching.py), through real services:
intent, NER and credit on the trained models under uvicorn, a fixed request set sent at once to one
service that gathers (batching=on, a wide window) and one by one to one that does not."""

from __future__ import annotations

import asyncio
import csv
import re

import httpx
import pytest

from kit.catalog import load_catalog
from kit.settings import REPO_ROOT, settings_class
from tests.servers import ServedInThread

MODELS = REPO_ROOT / "models"
REQUESTS = 40


def _intent_texts() -> list[str]:
    with open(REPO_ROOT / "services/intent/golden/queries.csv", newline="") as f:
        return [row["text"] for row in csv.DictReader(f)][:REQUESTS]


def _ner_texts() -> list[str]:
    lines = (REPO_ROOT / "services/ner/eval_set.txt").read_text().splitlines()
    marked = [line for line in lines if line.strip() and not line.startswith("#")]
    return [re.sub(r"\[([^\]]+)\]\([A-Z]+\)", r"\1", line) for line in marked][:REQUESTS]


def _credit_applicants() -> list[dict]:
    from bench.answers import applicants

    return applicants(REQUESTS)


def _serve(name: str, batching: str):
    row = load_catalog().service(name)
    build_app = __import__(f"{row.module_name}.app", fromlist=["build_app"]).build_app
    settings = settings_class(name)(model_dir=MODELS, log_level="WARNING", log_sample_rate=0,
                                    batching=batching, batch_window_ms=20, batch_max_items=16)
    return ServedInThread(build_app(settings))


async def _post_all(url: str, path: str, bodies: list[dict], at_once: bool) -> list:
    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 limits=httpx.Limits(max_connections=len(bodies))) as client:
        if at_once:
            return await asyncio.gather(*(client.post(path, json=b) for b in bodies))
        return [await client.post(path, json=b) for b in bodies]


def _batch_sizes(url: str) -> tuple[float, float]:
    """(model calls, instances) counted by finfleet_batch_size."""
    text = httpx.get(f"{url}/metrics").text
    count = float(re.search(r"^finfleet_batch_size_count\{[^}]*\} (\S+)$", text, re.M)[1])
    total = float(re.search(r"^finfleet_batch_size_sum\{[^}]*\} (\S+)$", text, re.M)[1])
    return count, total


@pytest.mark.parametrize(("name", "instances"), [
    ("intent", lambda: [{"text": t} for t in _intent_texts()]),
    ("ner", lambda: [{"text": t} for t in _ner_texts()]),
    ("credit", _credit_applicants),
])
def test_predictions_are_the_same_with_batching_on_and_off(name, instances):
    if not (MODELS / name).is_dir():
        pytest.skip(f"no trained {name} model in {MODELS} (make models)")
    path = f"/v1/models/{name}:predict"
    bodies = [{"instances": [instance]} for instance in instances()]
    bad = {"instances": [{"message": "no text"}]}  # refused alone, before gathering
    with _serve(name, "on") as on, _serve(name, "off") as off:
        gathered = asyncio.run(_post_all(on, path, [*bodies[:20], bad, *bodies[20:]], True))
        alone = asyncio.run(_post_all(off, path, bodies, False))
        calls, instances = _batch_sizes(on)
    assert gathered.pop(20).status_code == 422  # its neighbours in the window still answer
    assert [r.status_code for r in gathered] == [200] * len(bodies)
    assert [r.json()["predictions"] for r in gathered] == [r.json()["predictions"]
                                                           for r in alone]
    assert instances == len(bodies) and calls < len(bodies) / 2  # they really were gathered
