"""The fuzz suite: no input makes any server answer 500, bounded to a few minutes.

Two generators, against the real fleet (every service on its trained artifact, and the gateway,
each under uvicorn on loopback):
- schemathesis over each `/openapi.json`, every operation, inputs that fit the schema and inputs
  that break it, with the server-error check;
- a body fuzzer per predict route, on the service and through the gateway, that starts from the
  table's example and puts extremes in each of its fields (a grid: nesting, numbers at and
  past float range, dates at the calendar's edges and with extreme time zones, Unicode edge
  cases, sizes), then random JSON of every type (hypothesis).
`FUZZ_EXAMPLES` sets the cases per operation (default 30).
"""

from __future__ import annotations

import os
import shutil
import warnings

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from kit.catalog import load_catalog, with_value_at
from kit.settings import REPO_ROOT
from tests.servers import running_fleet

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))
SERVERS = [*load_catalog().names, "trainer", "gateway"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """On a copy of the trained models: the admin routes move aliases (none may leak into the
    checkout's registry)."""
    models = tmp_path_factory.mktemp("fuzz") / "models"
    shutil.copytree(REPO_ROOT / "models", models)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy on extreme inputs
        with running_fleet(models) as urls:
            yield urls


def fuzzed(operation) -> bool:
    """Every operation but promote, whose every valid call runs a gate (minutes of scoring,
    not a fuzz case); its body's validation is kit.admin's pydantic model, tested there."""
    return not operation.path.endswith("/promote")


@pytest.mark.parametrize("server", SERVERS)
def test_schemathesis_finds_no_server_error(fleet, server):
    schema = schemathesis.openapi.from_url(f"{fleet[server]}/openapi.json")
    operations = [op for op in (result.ok() for result in schema.get_all_operations())
                  if fuzzed(op)]
    assert any(op.method.upper() == "POST" for op in operations), "predict routes documented"
    for operation in operations:
        for mode in GenerationMode:
            @given(case=operation.as_strategy(generation_mode=mode))
            @BOUNDED
            def call(case):
                case.call_and_validate(checks=[not_a_server_error])

            try:
                call()
            except Unsatisfiable:  # nothing to break in an operation without inputs
                assert mode is GenerationMode.NEGATIVE, operation.label


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


# Every field of every example is tried with each of these (a grid, so no class is left to
# chance); hypothesis then adds random values of every JSON type.
EXTREMES = [
    0, -1, -0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 2**64, 10**30, True, None,
    "", " ", "\u0000", "\ufeff", "\u202e", "🙂" * 50, "a" * 5_000, "१२३", "NaN", "1e309",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31", "0001-01-01",
    "2024-02-30", "2024-13-01", [], {}, nested(40), nested(300),
]
RANDOM_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=20)


def field_paths(node, prefix: str = ""):
    """Every field's dotted path; of a list, its first and last items only."""
    if isinstance(node, dict):
        items = list(node.items())
    else:
        items = [(i, node[i]) for i in sorted({0, len(node) - 1})] if node else []
    for key, value in items:
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict | list) and value:
            yield from field_paths(value, f"{path}.")


def assert_answered(response: httpx.Response, sent) -> None:
    assert response.status_code < 500, (sent, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text


def ask_both(client: httpx.Client, fleet: dict[str, str], name: str, instance) -> None:
    """The service directly, and the gateway in front of it (which parses and re-encodes)."""
    assert_answered(client.post(f"{fleet[name]}/v1/models/{name}:predict",
                                json={"instances": [instance]}), instance)
    assert_answered(client.post(f"{fleet['gateway']}/v1/{name}", json=instance,
                                headers={"cache-control": "no-cache"}), instance)


@pytest.mark.parametrize("name", load_catalog().names)
def test_every_field_at_every_extreme_never_answers_500(fleet, name):
    example = load_catalog().service(name).example
    with httpx.Client(timeout=60) as client:
        for path in field_paths(example):
            for value in EXTREMES:
                ask_both(client, fleet, name, with_value_at(example, path, value))


@pytest.mark.parametrize("name", load_catalog().names)
def test_random_values_in_any_field_never_answer_500(fleet, name):
    example = load_catalog().service(name).example
    with httpx.Client(timeout=60) as client:
        @given(path=st.sampled_from(list(field_paths(example))), value=RANDOM_VALUES)
        @BOUNDED
        def call(path, value):
            ask_both(client, fleet, name, with_value_at(example, path, value))

        call()
