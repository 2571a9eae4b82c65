"""The Open Inference Protocol's (KServe V2) tensors ⇄ the kit's instances and predictions.

A V2 request is column-wise: one tensor per input field, each holding that field for N
instances. It becomes the N instance dicts V1 sends, so `model.predict` (and its validation)
serve both protocols; the predictions go back as one tensor per prediction field. This is
MLServer's "pandas" codec in spirit (a dataframe of columns ⇄ rows), written here from each
model's JSON schemas so no model has a second, V2-only implementation.

The mapping of one JSON-schema property (after dropping `null` from an `anyOf`):
  integer → INT64, number → FP32, boolean → BOOL, string (dates, enums) → BYTES (its text),
  anything else (objects, lists, mixed types) → BYTES holding each element as JSON text.
A request may send any numeric datatype for a numeric field (FP64 keeps a large amount
exact); the model's own validation then judges the value, as for V1.

Triton's binary tensor data extension is read and written too (tritonclient's default): the
JSON header's length in `Inference-Header-Content-Length`, then each binary tensor's bytes in
order, little-endian, BYTES elements each prefixed by a 4-byte length.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from kit.errors import BadRequest
from kit.http import load_json, nested_deeper

NUMPY_TYPES = {"BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
               "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
               "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
NUMERIC = frozenset(NUMPY_TYPES) - {"BOOL"}
SCALARS = {"integer": "INT64", "number": "FP32", "boolean": "BOOL", "string": "BYTES"}
HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class Tensor:
    """One input or output of a model as V2 declares it. `as_json`: a BYTES tensor whose
    elements are JSON texts (a structured field), not plain text."""

    name: str
    datatype: str
    as_json: bool = False

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": [-1],
                "parameters": {"content_type": "json" if self.as_json else
                               "str" if self.datatype == "BYTES" else "np"}}


def tensors_of(schema: dict[str, Any]) -> list[Tensor]:
    """One tensor per property of an object schema (pydantic's, `$ref`s into its `$defs`)."""
    defs = schema.get("$defs", {})
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _resolved(prop, defs)
        options = [_resolved(p, defs) for p in prop.get("anyOf", [prop])]
        options = [p for p in options if p.get("type") != "null"]
        kind = options[0].get("type") if len(options) == 1 else None
        if kind is None and options and all(isinstance(v, str) for p in options
                                            for v in p.get("enum", [None])):
            kind = "string"
        datatype = SCALARS.get(kind) if isinstance(kind, str) else None
        out.append(Tensor(name, datatype or "BYTES", as_json=datatype is None))
    return out


def _resolved(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return defs.get(ref[8:], {})
    return node


@dataclass
class InferRequest:
    """A decoded V2 request: the instances, and what the caller asked of the answer."""

    id: str | None
    instances: list[dict[str, Any]]
    outputs: list[str] | None  # None: every output
    binary: dict[str, bool]  # per output asked for, or "*": the request's default


def decode_request(body: bytes, header_length: str | None, inputs: list[Tensor],
                   max_instances: int, max_depth: int) -> InferRequest:
    """A V2 inference request as instance dicts; a 400 naming the input for anything amiss."""
    binary = b""
    if header_length is not None:
        try:
            length = int(header_length)
        except ValueError:
            length = -1
        if not 0 <= length <= len(body):
            raise BadRequest(f"{HEADER_LENGTH}: {header_length!r} is not a length within "
                             f"the body's {len(body)} bytes")
        body, binary = body[:length], body[length:]
    payload = load_json(body, max_depth)
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) \
            or not payload["inputs"]:
        raise BadRequest('the body must be an object with a non-empty "inputs" list')
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest('"id" must be a string')
    known = {t.name: t for t in inputs}
    columns: dict[str, list[Any]] = {}
    offset = 0
    for item in payload["inputs"]:
        name, values, offset = _column(item, known, binary, offset, max_instances, max_depth)
        if name in columns:
            raise BadRequest(f"input {name!r} is given twice")
        columns[name] = values
    if offset != len(binary):
        raise BadRequest(f"{len(binary) - offset} bytes of binary data belong to no input")
    sizes = {len(v) for v in columns.values()}
    if len(sizes) > 1:
        raise BadRequest("every input must hold the same number of instances; got "
                         + ", ".join(f"{k}: {len(v)}" for k, v in columns.items()))
    count = sizes.pop()
    instances = [{k: v[i] for k, v in columns.items()} for i in range(count)]
    outputs, binary_flags = _requested(payload)
    return InferRequest(request_id, instances, outputs, binary_flags)


def _column(item: Any, known: dict[str, Tensor], binary: bytes, offset: int,
            max_instances: int, max_depth: int) -> tuple[str, list[Any], int]:
    """One input tensor's values (one per instance) and the binary offset after it."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise BadRequest("each input must be an object with a string \"name\"")
    name = item["name"]
    tensor = known.get(name)
    if tensor is None:
        raise BadRequest(f"unknown input {name!r}; this model's inputs: {', '.join(known)}")
    datatype, shape = item.get("datatype"), item.get("shape")
    if datatype not in NUMPY_TYPES and datatype != "BYTES":
        raise BadRequest(f"input {name!r}: datatype {datatype!r} is not a V2 datatype")
    if (datatype == "BYTES") != (tensor.datatype == "BYTES") or \
            (tensor.datatype == "BOOL") != (datatype == "BOOL"):
        wanted = "a numeric datatype" if tensor.datatype in NUMERIC else tensor.datatype
        raise BadRequest(f"input {name!r} takes {wanted}, not {datatype}")
    if not (isinstance(shape, list) and 1 <= len(shape) <= 2
            and all(type(d) is int for d in shape) and shape[1:] in ([], [1])
            and 1 <= shape[0] <= max_instances):
        raise BadRequest(f"input {name!r}: shape must be [N] or [N, 1] with 1 ≤ N ≤ "
                         f"{max_instances}; got {shape!r}")
    count = shape[0]
    params = item.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if type(size) is not int or not 0 <= size <= len(binary) - offset:
            raise BadRequest(f"input {name!r}: binary_data_size {size!r} is beyond the body")
        values = _from_binary(name, datatype, binary[offset:offset + size])
        offset += size
    else:
        values = _flat(item.get("data"), name)
        _check_json_types(name, datatype, values)
    if len(values) != count:
        raise BadRequest(f"input {name!r}: shape {shape} holds {count} element(s); "
                         f"the data has {len(values)}")
    if tensor.as_json:
        values = [_json_element(name, i, v, max_depth) for i, v in enumerate(values)]
    return name, values, offset


def _flat(data: Any, name: str) -> list[Any]:
    """Row-major elements of (possibly nested) `data`."""
    if not isinstance(data, list):
        raise BadRequest(f"input {name!r} needs a \"data\" list (or binary data)")
    if not any(isinstance(v, list) for v in data):
        return data
    out: list[Any] = []
    for v in data:
        out.extend(_flat(v, name) if isinstance(v, list) else [v])
    return out


def _check_json_types(name: str, datatype: str, values: list[Any]) -> None:
    if datatype == "BYTES":
        ok = all(isinstance(v, str) for v in values)
    elif datatype == "BOOL":
        ok = all(isinstance(v, bool) for v in values)
    else:
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not ok:
        raise BadRequest(f"input {name!r}: every element of a {datatype} tensor must be "
                         f"{'a string' if datatype == 'BYTES' else 'a ' + datatype + ' value'}")


def _from_binary(name: str, datatype: str, raw: bytes) -> list[Any]:
    if datatype == "BYTES":
        out, at = [], 0
        while at < len(raw):
            if at + 4 > len(raw):
                raise BadRequest(f"input {name!r}: a BYTES element's length is cut short")
            (length,) = struct.unpack_from("<I", raw, at)
            at += 4
            if at + length > len(raw):
                raise BadRequest(f"input {name!r}: a BYTES element runs past its data")
            try:
                out.append(raw[at:at + length].decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise BadRequest(f"input {name!r}: element {len(out)} is not UTF-8") from exc
            at += length
        return out
    dtype = np.dtype(NUMPY_TYPES[datatype])
    if len(raw) % dtype.itemsize:
        raise BadRequest(f"input {name!r}: {len(raw)} bytes is not a whole number of "
                         f"{datatype} elements")
    values = np.frombuffer(raw, dtype=dtype).tolist()
    if datatype.startswith("FP") and not all(math.isfinite(v) for v in values):
        raise BadRequest(f"input {name!r} holds a non-finite number")
    return values


def _json_element(name: str, index: int, text: str, max_depth: int) -> Any:
    """One element of a JSON-carrying BYTES tensor, held to the body's nesting limit."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"input {name!r}: element {index} is not JSON text ({exc})") from exc
    if isinstance(value, dict | list) and nested_deeper(value, max_depth):
        raise BadRequest(f"input {name!r}: element {index} nests deeper than {max_depth} levels")
    return value


def _requested(payload: dict[str, Any]) -> tuple[list[str] | None, dict[str, bool]]:
    params = payload.get("parameters")
    default = isinstance(params, dict) and params.get("binary_data_output") is True
    flags = {"*": default}
    asked = payload.get("outputs")
    if asked is None:
        return None, flags
    if not isinstance(asked, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked):
        raise BadRequest('"outputs" must be a list of objects with a string "name"')
    for out in asked:
        params = out.get("parameters")
        flag = params.get("binary_data") if isinstance(params, dict) else None
        flags[out["name"]] = default if flag is None else flag is True
    return [o["name"] for o in asked], flags


def chosen_outputs(request: InferRequest, outputs: list[Tensor]) -> list[Tensor]:
    """The outputs the request asked for, in its order (400 for one the model lacks)."""
    if request.outputs is None:
        return outputs
    known = {t.name: t for t in outputs}
    missing = [n for n in request.outputs if n not in known]
    if missing:
        raise BadRequest(f"unknown output(s) {', '.join(map(repr, missing))}; this model's "
                         f"outputs: {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(request.outputs)]


def encode_response(head: dict[str, Any], predictions: list[dict[str, Any]],
                    outputs: list[Tensor], binary: dict[str, bool]) -> tuple[bytes, int | None]:
    """The V2 answer: `head` (model_name, model_version, id) plus one tensor per output, and
    the JSON header's length when any output went as binary data (else None)."""
    tensors, blobs = [], []
    for tensor in outputs:
        values = _elements(tensor, [p.get(tensor.name) for p in predictions])
        out: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype,
                               "shape": [len(values)]}
        if binary.get(tensor.name, binary["*"]):
            blob = _to_binary(tensor.datatype, values)
            out["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            out["data"] = values
        tensors.append(out)
    header = orjson.dumps({**head, "outputs": tensors}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def _elements(tensor: Tensor, values: list[Any]) -> list[Any]:
    """An output's values as its tensor's elements: numbers as they are, JSON text for a
    structured field, text for BYTES (a date as its ISO form)."""
    if tensor.as_json:
        return [orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() for v in values]
    if tensor.datatype != "BYTES" or all(isinstance(v, str) for v in values):
        return values
    return [v if isinstance(v, str) else _text(v) for v in values]


def _text(value: Any) -> str:
    text = orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    return text if isinstance(text, str) else orjson.dumps(text).decode()


def _to_binary(datatype: str, values: list[Any]) -> bytes:
    if datatype == "BYTES":
        parts = []
        for v in values:
            raw = v.encode("utf-8")
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    return np.asarray(values, dtype=NUMPY_TYPES[datatype]).tobytes()


_INSTANCE_FIELD = re.compile(r"^instances\[(\d+)\]\.?([^.\[]*)(.*)$")


def v2_field(field: str) -> str:
    """A V1 error's `instances[3].age` as the V2 caller's `age[3]` (input, then instance)."""
    match = _INSTANCE_FIELD.match(field)
    if not match:
        return field
    index, name, rest = match.groups()
    return f"{name}[{index}]{rest}" if name else f"instance {index}"
