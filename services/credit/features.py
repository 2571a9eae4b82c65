"""The feature schema: validate raw applications and encode them as the model's float matrix.

The schema is written into the manifest by training, so the service validates requests against
exactly what the model was trained on. Pure Python and numpy: no pandas on the request path.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from kit.records import all_in, columns, gather, numbers_within, uniform_dicts


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
        """Every problem in the batch, each naming `instances[i].field`. A valid batch is known
        valid from a few whole-column checks (kit/records.py); only a batch that fails them is
        walked instance by instance, which is what names the problems. Below
        `COLUMNWISE_FROM` instances the walk is the cheaper way to find none."""
        if len(instances) >= COLUMNWISE_FROM and self._all_valid(instances):
            return []
        return self._problems(instances)

    def _all_valid(self, instances: list[Any]) -> bool:
        layout = self._layout
        if not uniform_dicts(instances, len(self.fields)):
            return False
        try:
            numbers = gather(instances, layout.numeric_names)
            categories = gather(instances, layout.categorical_names)
        except KeyError:  # as many keys as fields, but not these
            return False
        if numbers_within(numbers, layout.minimum, layout.maximum) is None:
            return False
        return all(all_in(column, allowed)
                   for column, allowed in zip(columns(categories), layout.allowed, strict=True))

    def _problems(self, instances: list[Any]) -> list[dict[str, Any]]:
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
        return self.encode_with_ratios(instances)[0]

    def encode_with_ratios(self, instances: list[dict[str, Any]]
                           ) -> tuple[np.ndarray, np.ndarray]:
        """Validated instances → the float32 matrix in `columns` order, and the derived ratios
        in float64 ([rows, ratios]: the values reasons quote). Both ways give the same bits
        (services/credit/tests/test_rows.py); each is the cheaper one at its sizes."""
        if len(instances) >= COLUMNWISE_FROM:
            return self._encode_columns(instances)
        return self._encode_rows(instances)

    def _encode_rows(self, instances: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((len(instances), len(self.columns)), dtype=np.float32)
        ratios = np.empty((len(instances), len(self.ratios)), dtype=np.float64)
        for row, inst in enumerate(instances):
            col = 0
            for f in self.fields:
                if f.kind == "numeric":
                    out[row, col] = float(inst[f.name])
                    col += 1
                else:
                    out[row, col + f.values.index(inst[f.name])] = 1.0
                    col += len(f.values)
            for j, r in enumerate(self.ratios):
                out[row, col] = ratios[row, j] = ratio_value(inst, r)
                col += 1
        return out, ratios

    def _encode_columns(self, instances: list[dict[str, Any]]
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Column by column: the ratios with the same float operations, in the same order, as
        `ratio_value` on one row."""
        layout = self._layout
        n = len(instances)
        out = np.zeros((n, len(self.columns)), dtype=np.float32)
        numbers = np.array(gather(instances, layout.numeric_names), dtype=np.float64).reshape(
            n, len(layout.numeric_names))
        out[:, layout.numeric_columns] = numbers
        row_starts = np.arange(n) * len(self.columns)  # one-hot cells by flat position
        categories = gather(instances, layout.categorical_names)
        for column, first, index in zip(columns(categories), layout.first_columns, layout.index,
                                        strict=True):
            offsets = np.fromiter(map(index.__getitem__, column), np.int64, n)
            out.ravel()[row_starts + (first + offsets)] = 1
        named = {name: numbers[:, j] for j, name in enumerate(layout.numeric_names)}
        ratios, computed = np.empty((n, len(self.ratios)), dtype=np.float64), {}
        for j, r in enumerate(self.ratios):
            ratios[:, j] = ratio_column(named, r, computed)
        out[:, len(self.columns) - len(self.ratios):] = ratios
        return out, ratios

    @cached_property
    def _layout(self) -> _Layout:
        return _Layout.of(self)

    def column_groups(self) -> list[str]:
        """For each column, the feature a reason code names (a one-hot column → its field)."""
        return [c.split("=", 1)[0] for c in self.columns]


_MISSING = object()
# From this many instances a batch is validated and encoded column by column: a few numpy calls
# for the batch (~30 µs) instead of ~3 µs an instance each (docs/bench.md "Rows that pay").
COLUMNWISE_FROM = 8


@dataclass(frozen=True)
class _Layout:
    """Where each field sits in the encoded matrix, for whole-batch work."""

    numeric_names: tuple[str, ...]
    numeric_columns: np.ndarray  # their columns in the matrix
    minimum: np.ndarray  # their bounds (±inf: none)
    maximum: np.ndarray
    categorical_names: tuple[str, ...]
    first_columns: tuple[int, ...]  # each one's first one-hot column
    index: tuple[dict[str, int], ...]  # each one's value → offset from that column
    allowed: tuple[frozenset[str], ...]

    @classmethod
    def of(cls, spec: FeatureSpec) -> _Layout:
        numeric, numeric_columns, low, high = [], [], [], []
        categorical, first, index = [], [], []
        col = 0
        for f in spec.fields:
            if f.kind == "numeric":
                numeric.append(f.name)
                numeric_columns.append(col)
                low.append(-math.inf if f.minimum is None else f.minimum)
                high.append(math.inf if f.maximum is None else f.maximum)
                col += 1
            else:
                categorical.append(f)
                first.append(col)
                index.append({v: k for k, v in reversed(list(enumerate(f.values)))})
                col += len(f.values)
        return cls(tuple(numeric), np.array(numeric_columns, dtype=np.int64),
                   np.array(low, dtype=np.float64), np.array(high, dtype=np.float64),
                   tuple(f.name for f in categorical), tuple(first), tuple(index),
                   tuple(frozenset(f.values) for f in categorical))


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


def emi_column(principal: np.ndarray, months: np.ndarray) -> np.ndarray:
    """`emi` of each row: the power in Python (numpy's may differ in the last bit), the rest
    as `emi` computes it, operation for operation."""
    r = ANNUAL_RATE / 12
    growth = np.array([(1 + r) ** m for m in months.tolist()], dtype=np.float64)
    return principal * r * growth / (growth - 1)


COMPUTED_COLUMNS = {
    "new_emi": lambda c: emi_column(c["loan_amount"], c["tenure_months"]),
    "annual_income": lambda c: c["income"] * 12,
}


def ratio_column(columns: dict[str, np.ndarray], ratio: Ratio,
                 computed: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """`ratio_value` of every row, from the float64 columns of the numeric fields; `computed`
    keeps the intermediate columns (the EMI) for the batch's other ratios."""
    computed = {} if computed is None else computed

    def value(name: str) -> np.ndarray:
        if name not in COMPUTED_COLUMNS:
            return columns[name]
        if name not in computed:
            computed[name] = COMPUTED_COLUMNS[name](columns)
        return computed[name]

    denominator = value(ratio.denominator)
    numerator = np.zeros_like(denominator)  # `sum` starts from 0: 0 + -0.0 is 0.0, as there
    for name in ratio.numerator:
        numerator = numerator + value(name)
    return np.divide(numerator, denominator, out=np.zeros_like(denominator),
                     where=denominator > 0)


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
    if isinstance(value, float) and not math.isfinite(value):  # an int always is
        return "must be a finite number", "finite_number"
    if f.minimum is not None and value < f.minimum:
        return f"must be ≥ {f.minimum:g}", "greater_than_equal"
    if f.maximum is not None and value > f.maximum:
        return f"must be ≤ {f.maximum:g}", "less_than_equal"
    return None
