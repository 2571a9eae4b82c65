"""The feature schema: validate raw applications and encode them as the model's float matrix.

The schema is written into the manifest by training, so the service validates requests against
exactly what the model was trained on. Pure Python and numpy: no pandas on the request path.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Field:
    """One raw input: numeric with a range, or categorical with its allowed values."""

    name: str
    kind: str  # "numeric" | "categorical"
    minimum: float | None = None
    maximum: float | None = None
    values: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Ratio:
    """A derived feature `numerator / denominator` (e.g. EMI-to-income), computed, never sent."""

    name: str
    numerator: tuple[str, ...]
    denominator: str
    description: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    fields: tuple[Field, ...]
    ratios: tuple[Ratio, ...] = ()
    columns: tuple[str, ...] = field(default=())

    @classmethod
    def build(cls, fields: list[Field], ratios: list[Ratio] = ()) -> FeatureSpec:
        columns: list[str] = []
        for f in fields:
            if f.kind == "numeric":
                columns.append(f.name)
            else:
                columns.extend(f"{f.name}={v}" for v in f.values)
        columns.extend(r.name for r in ratios)
        return cls(tuple(fields), tuple(ratios), tuple(columns))

    # --- manifest round trip -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": [asdict(f) for f in self.fields],
            "ratios": [asdict(r) for r in self.ratios],
            "columns": list(self.columns),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        fields = tuple(
            Field(**{**f, "values": tuple(f.get("values", ()))}) for f in data["fields"]
        )
        ratios = tuple(
            Ratio(**{**r, "numerator": tuple(r["numerator"])}) for r in data.get("ratios", ())
        )
        return cls(fields, ratios, tuple(data["columns"]))

    def json_schema(self) -> dict[str, Any]:
        """A JSON Schema of one instance, for `GET /v1/models/credit`."""
        props: dict[str, Any] = {}
        for f in self.fields:
            if f.kind == "numeric":
                props[f.name] = {"type": "number", "minimum": f.minimum, "maximum": f.maximum,
                                 "description": f.description}
            else:
                props[f.name] = {"type": "string", "enum": list(f.values),
                                 "description": f.description}
        return {"type": "object", "properties": props, "required": [f.name for f in self.fields],
                "additionalProperties": False,
                "derived": {r.name: r.description for r in self.ratios}}

    # --- the request path ------------------------------------------------------------------
    def validate(self, instances: list[Any]) -> list[dict[str, Any]]:
        """Every problem in the batch, each naming `instances[i].field`."""
        errors: list[dict[str, Any]] = []
        known = {f.name for f in self.fields}
        for i, inst in enumerate(instances):
            where = f"instances[{i}]"
            if not isinstance(inst, dict):
                errors.append(_err(where, "must be an object", "dict_type"))
                continue
            for name in sorted(set(inst) - known):
                errors.append(_err(f"{where}.{name}", "unknown field", "extra_forbidden"))
            for f in self.fields:
                problem = _check(f, inst.get(f.name, _MISSING))
                if problem:
                    errors.append(_err(f"{where}.{f.name}", *problem))
        return errors

    def encode(self, instances: list[dict[str, Any]]) -> np.ndarray:
        """Validated instances → float32 matrix in `columns` order."""
        out = np.zeros((len(instances), len(self.columns)), dtype=np.float32)
        for row, inst in enumerate(instances):
            col = 0
            for f in self.fields:
                if f.kind == "numeric":
                    out[row, col] = float(inst[f.name])
                    col += 1
                else:
                    out[row, col + f.values.index(inst[f.name])] = 1.0
                    col += len(f.values)
            for r in self.ratios:
                out[row, col] = ratio_value(inst, r)
                col += 1
        return out

    def column_groups(self) -> list[str]:
        """For each column, the feature a reason code names (a one-hot column → its field)."""
        return [c.split("=", 1)[0] for c in self.columns]


_MISSING = object()


ANNUAL_RATE = 0.12  # the EMI the derived ratios assume: 12% p.a., monthly reducing balance


def emi(principal: float, months: float) -> float:
    """Equated monthly instalment at ANNUAL_RATE."""
    r = ANNUAL_RATE / 12
    growth = (1 + r) ** months
    return principal * r * growth / (growth - 1)


# Intermediate values a ratio may name besides the raw fields.
COMPUTED = {
    "new_emi": lambda row: emi(float(row["loan_amount"]), float(row["tenure_months"])),
    "annual_income": lambda row: float(row["income"]) * 12,
}


def _value(row: dict[str, Any], name: str) -> float:
    return COMPUTED[name](row) if name in COMPUTED else float(row[name])


def ratio_value(row: dict[str, Any], ratio: Ratio) -> float:
    denominator = _value(row, ratio.denominator)
    numerator = sum(_value(row, n) for n in ratio.numerator)
    return numerator / denominator if denominator > 0 else 0.0


def _err(field_path: str, message: str, kind: str) -> dict[str, Any]:
    return {"field": field_path, "message": message, "type": kind}


def _check(f: Field, value: Any) -> tuple[str, str] | None:
    if value is _MISSING:
        return "field required", "missing"
    if f.kind == "categorical":
        if not isinstance(value, str):
            return "must be a string", "string_type"
        if value not in f.values:
            return f"must be one of {', '.join(f.values)}", "enum"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number", "number_type"
    if not math.isfinite(value):
        return "must be a finite number", "finite_number"
    if f.minimum is not None and value < f.minimum:
        return f"must be ≥ {f.minimum:g}", "greater_than_equal"
    if f.maximum is not None and value > f.maximum:
        return f"must be ≤ {f.maximum:g}", "less_than_equal"
    return None
