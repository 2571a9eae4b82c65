"""kit/v2_codec.py: V2 tensors ⇄ instances and predictions, JSON and binary tensor data
(the binary bodies are made and read by tritonclient's own functions)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import orjson
import pytest
from pydantic import BaseModel
from tritonclient.http import InferResult
from tritonclient.utils import serialize_byte_tensor

from kit.errors import BadRequest
from kit.v2_codec import (
    InferRequest,
    Tensor,
    chosen_outputs,
    decode_request,
    encode_response,
    tensors_of,
    v2_field,
)


class Inner(BaseModel):
    x: int


class Shape(BaseModel):
    count: int
    amount: float
    flag: bool
    text: str
    day: dt.date
    kind: Literal["a", "b"]
    maybe: float | None = None
    items: list[Inner]
    nested: Inner
    either: int | str
    extra: dict[str, int] | None = None


INPUTS = [Tensor("age", "FP32"), Tensor("job", "BYTES"), Tensor("history", "BYTES", True)]


def test_each_json_schema_type_maps_to_its_datatype():
    got = {t.name: (t.datatype, t.as_json) for t in tensors_of(Shape.model_json_schema())}
    assert got == {"count": ("INT64", False), "amount": ("FP32", False),
                   "flag": ("BOOL", False), "text": ("BYTES", False),
                   "day": ("BYTES", False), "kind": ("BYTES", False),
                   "maybe": ("FP32", False), "items": ("BYTES", True),
                   "nested": ("BYTES", True), "either": ("BYTES", True),
                   "extra": ("BYTES", True)}


def body(*inputs: dict, **extra) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


def decode(raw: bytes, header: str | None = None, max_instances: int = 8) -> InferRequest:
    return decode_request(raw, header, INPUTS, max_instances, 32)


def test_columns_become_instances_with_json_fields_parsed():
    request = decode(body(
        {"name": "age", "datatype": "INT64", "shape": [2, 1], "data": [[30], [41]]},
        {"name": "history", "datatype": "BYTES", "shape": [2], "data": ["[1]", '{"a": 2}']},
        id="r1", outputs=[{"name": "score", "parameters": {"binary_data": True}}]))
    assert request.instances == [{"age": 30, "history": [1]}, {"age": 41, "history": {"a": 2}}]
    assert request.id == "r1" and request.outputs == ["score"]
    assert request.binary == {"*": False, "score": True}


@pytest.mark.parametrize(("inputs", "says"), [
    ([{"name": "nope", "datatype": "FP32", "shape": [1], "data": [1]}], "unknown input 'nope'"),
    ([{"name": "age", "datatype": "BYTES", "shape": [1], "data": ["x"]}], "numeric datatype"),
    ([{"name": "job", "datatype": "FP32", "shape": [1], "data": [1]}], "takes BYTES"),
    ([{"name": "age", "datatype": "FP32", "shape": [1], "data": ["x"]}], "must be a FP32"),
    ([{"name": "age", "datatype": "FP32", "shape": [2], "data": [1]}], "holds 2 element"),
    ([{"name": "age", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}], "shape must be"),
    ([{"name": "age", "datatype": "FP32", "shape": [9], "data": [1] * 9}], "shape must be"),
    ([{"name": "age", "datatype": "FLOAT", "shape": [1], "data": [1]}], "not a V2 datatype"),
    ([{"name": "history", "datatype": "BYTES", "shape": [1], "data": ["{"]}], "not JSON"),
    ([{"name": "history", "datatype": "BYTES", "shape": [1], "data": ["[" * 40 + "]" * 40]}],
     "deeper than 32"),
    ([{"name": "age", "datatype": "FP32", "shape": [1], "data": [1]}] * 2, "given twice"),
    ([{"name": "age", "datatype": "FP32", "shape": [1], "data": [1]},
      {"name": "job", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}], "same number"),
    ([], "non-empty"),
])
def test_a_malformed_request_is_a_400_naming_the_input(inputs, says):
    with pytest.raises(BadRequest, match=says):
        decode(body(*inputs))


def test_binary_tensor_data_is_read_as_tritonclient_writes_it():
    jobs = serialize_byte_tensor(np.array([b"salaried", "gig ✓".encode()], dtype=np.object_))
    jobs = jobs.item()
    ages = np.array([30.5, 41.0], dtype=np.float32).tobytes()
    header = body({"name": "job", "datatype": "BYTES", "shape": [2],
                   "parameters": {"binary_data_size": len(jobs)}},
                  {"name": "age", "datatype": "FP32", "shape": [2],
                   "parameters": {"binary_data_size": len(ages)}})
    request = decode(header + jobs + ages, str(len(header)))
    assert request.instances == [{"job": "salaried", "age": 30.5},
                                 {"job": "gig ✓", "age": 41.0}]


@pytest.mark.parametrize(("data", "says"), [
    (np.array([np.nan], dtype=np.float32).tobytes(), "non-finite"),
    (b"\x01\x02\x03", "whole number"),
])
def test_bad_binary_numbers_are_a_400(data, says):
    header = body({"name": "age", "datatype": "FP32", "shape": [1],
                   "parameters": {"binary_data_size": len(data)}})
    with pytest.raises(BadRequest, match=says):
        decode(header + data, str(len(header)))


@pytest.mark.parametrize(("tail", "size", "length", "says"), [
    (b"\x05\x00\x00\x00ab", 6, None, "runs past"),
    (b"\x05\x00", 2, None, "cut short"),
    (b"\x01\x00\x00\x00azz", 5, None, "belong to no input"),
    (b"", 0, "99999", "within the body"),
])
def test_bad_binary_framing_is_a_400(tail, size, length, says):
    header = body({"name": "job", "datatype": "BYTES", "shape": [1],
                   "parameters": {"binary_data_size": size}})
    with pytest.raises(BadRequest, match=says):
        decode(header + tail, length or str(len(header)))


OUTPUTS = [Tensor("score", "FP32"), Tensor("band", "BYTES"), Tensor("day", "BYTES"),
           Tensor("reasons", "BYTES", True), Tensor("ok", "BOOL")]
PREDICTIONS = [{"score": 0.25, "band": "low", "day": dt.date(2026, 1, 2),
                "reasons": [{"f": "age"}], "ok": True},
               {"score": 0.5, "band": "high", "day": dt.date(2026, 1, 3), "reasons": [],
                "ok": False}]


def test_outputs_as_json_tensors():
    raw, length = encode_response({"model_name": "m", "model_version": "1"}, PREDICTIONS,
                                  OUTPUTS, {"*": False})
    assert length is None
    outputs = {o["name"]: o for o in orjson.loads(raw)["outputs"]}
    assert outputs["score"] == {"name": "score", "datatype": "FP32", "shape": [2],
                                "data": [0.25, 0.5]}
    assert outputs["day"]["data"] == ["2026-01-02", "2026-01-03"]
    assert outputs["reasons"]["data"] == ['[{"f":"age"}]', "[]"]


def test_binary_outputs_are_read_back_by_tritonclient():
    raw, length = encode_response({"model_name": "m", "model_version": "1"}, PREDICTIONS,
                                  OUTPUTS, {"*": True, "band": False})
    result = InferResult.from_response_body(raw, header_length=length)
    assert result.as_numpy("score").tolist() == [0.25, 0.5]
    assert result.as_numpy("band").tolist() == ["low", "high"]  # asked as JSON
    assert result.as_numpy("reasons").tolist() == [b'[{"f":"age"}]', b"[]"]
    assert result.as_numpy("ok").tolist() == [True, False]


def test_asked_outputs_in_their_order_and_an_unknown_one_is_a_400():
    asked = InferRequest(None, [], ["band", "score", "band"], {"*": False})
    assert [t.name for t in chosen_outputs(asked, OUTPUTS)] == ["band", "score"]
    with pytest.raises(BadRequest, match="'nope'"):
        chosen_outputs(InferRequest(None, [], ["nope"], {"*": False}), OUTPUTS)


def test_v1_error_fields_read_as_input_and_instance():
    assert v2_field("instances[3].age") == "age[3]"
    assert v2_field("instances[0].transaction.amount") == "transaction[0].amount"
    assert v2_field("instances[2]") == "instance 2"
    assert v2_field("body") == "body"


def test_tensors_come_from_the_models_schemas_unless_it_declares_its_own():
    from kit.model import ServedModel
    from kit.v2 import model_metadata

    class Generic(ServedModel):
        name = "generic"
        prediction_model = Inner

        def input_schema(self):
            return Shape.model_json_schema()

    class Own(Generic):
        def v2_tensors(self):
            return [Tensor("amount", "FP64")], [Tensor("x", "INT32")]

    generic = model_metadata(Generic(None), ["1"])
    assert generic["inputs"][1] == {"name": "amount", "datatype": "FP32", "shape": [-1],
                                    "parameters": {"content_type": "np"}}
    assert generic["outputs"] == [{"name": "x", "datatype": "INT64", "shape": [-1],
                                   "parameters": {"content_type": "np"}}]
    own = model_metadata(Own(None), ["1"])
    assert [(t["name"], t["datatype"]) for t in own["inputs"] + own["outputs"]] == [
        ("amount", "FP64"), ("x", "INT32")]
