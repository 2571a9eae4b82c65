"""Credit risk model: the algorithm training chose (XGBoost: ONNX Runtime for the probability,
tree tables for the reasons; logistic regression: numpy for both), then Platt calibration."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort

from kit import Artifact, InvalidInput, ServedModel
from kit.quality import ranking
from services.credit.explain import TreeTables
from services.credit.features import FeatureSpec, ratio_value
from services.credit.linear import LINEAR_NPZ, LinearScorer
from services.credit.schema import (
    DECISIONS,
    CreditPrediction,
    band_names,
    exact_round,
    risk_scores,
)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def feature_spec(manifest: dict[str, Any]) -> FeatureSpec:
    """The encoding the model was trained with (`feature_schema` in versions trained before the
    manifests named it `input_schema`)."""
    schema = manifest["input_schema"] if "input_schema" in manifest else manifest["feature_schema"]
    return FeatureSpec.from_dict(schema)


class TreeScorer:
    """XGBoost as served: ONNX Runtime for the probability, tree tables for the reasons."""

    def __init__(self, artifact: Artifact) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(artifact.file("model.onnx")), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.trees = TreeTables.load(artifact.file("trees.npz"))
        self.bias = self.trees.bias
        self._grouped: tuple[np.ndarray, np.ndarray] | None = None

    def raw_probability(self, x: np.ndarray) -> np.ndarray:
        outputs = self.session.run(None, {self.input_name: x})
        probabilities = outputs[1]  # [rows, 2] or list of {0: p0, 1: p1} maps
        if isinstance(probabilities, list):
            return np.array([row[1] for row in probabilities], dtype=np.float64)
        return np.asarray(probabilities, dtype=np.float64)[:, 1]

    def contributions(self, x: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Per column, or per reported feature for `groups` ([columns, features] of 0/1): the
        trees' path table is regrouped once, so the walk sums the reported features."""
        if groups is None:
            return self.trees.contributions(x)
        if x.shape[1] != len(groups):
            raise ValueError(f"{x.shape[1]} columns, but groups for {len(groups)}")
        cached = self._grouped
        if cached is None or cached[0] is not groups:
            cached = self._grouped = (groups, self.trees.paths(len(groups)) @ groups)
        return self.trees.contributions(x, cached[1])


def load_scorer(artifact: Artifact) -> TreeScorer | LinearScorer:
    """The manifest's `algorithm` (versions saved before it existed are XGBoost)."""
    if artifact.manifest.get("algorithm", "xgboost") == "logistic":
        return LinearScorer.load(artifact.file(LINEAR_NPZ))
    return TreeScorer(artifact)


class CreditModel(ServedModel):
    """Probability of default, 0–100 score, band and top reasons for each application."""

    name = "credit"
    prediction_model = CreditPrediction
    offload = False  # ~100 µs a row: a thread hop would cost more than it saves
    # The rows of one loop turn's requests as one call (one encode, one ONNX run): 1.75x req/s
    # at 16 connections; a lone request waits that one turn, no window (docs/batching.md).
    batching = "on"
    # Four 32-row requests share a call (the kit's 32 let none share): 1.38x req/s at 16
    # connections × 32 rows; the tree walk stays linear in rows (explain.py CHUNK_CELLS).
    batch_max_items = 128
    outcome_label = bool  # true: the applicant defaulted

    @classmethod
    def live_quality(cls, pairs: list[tuple[Any, Any]]) -> dict[str, float]:
        return ranking(pairs, lambda p: p["probability_of_default"], bool)

    def load(self, artifact: Artifact) -> None:
        super().load(artifact)
        manifest = artifact.manifest
        self.spec = feature_spec(manifest)
        self.scorer = load_scorer(artifact)
        calibration = manifest["calibration"]
        self.cal_slope, self.cal_intercept = calibration["slope"], calibration["intercept"]
        self.medium_from = manifest["bands"]["medium_from"]
        self.high_from = manifest["bands"]["high_from"]
        self.groups = self.spec.column_groups()
        self.group_names = list(dict.fromkeys(self.groups))
        self.group_matrix = np.zeros((len(self.groups), len(self.group_names)))
        for column, group in enumerate(self.groups):
            self.group_matrix[column, self.group_names.index(group)] = 1.0
        ratio_of = {r.name: j for j, r in enumerate(self.spec.ratios)}
        # Each reported feature and, for a derived one, its column among the ratios.
        self.reason_sources = [(name, ratio_of.get(name)) for name in self.group_names]

    def input_schema(self) -> dict[str, Any]:
        return self.spec.json_schema()

    def metadata(self) -> dict[str, Any]:
        """The kit's metadata plus the algorithm this version serves (xgboost or logistic)."""
        meta = super().metadata()
        if self.artifact:
            meta["algorithm"] = self.artifact.manifest.get("algorithm", "xgboost")
        return meta

    def prepare(self, instances: list[Any]) -> list[Any]:
        errors = self.spec.validate(instances)
        if errors:
            raise InvalidInput(f"{len(errors)} invalid field(s) in the instances", errors=errors)
        return instances

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        return self.predict_prepared(self.prepare(instances))

    def predict_prepared(self, instances: list[Any]) -> list[dict[str, Any]]:
        x, ratios = self.spec.encode_with_ratios(instances)
        raw = self.scorer.raw_probability(x)
        probability = sigmoid(self.cal_slope * logit(raw) + self.cal_intercept)
        return self._answers(instances, probability, self._grouped_contributions(x), ratios)

    def drift_features(self, instances: list[Any], predictions: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        """The fields, the derived ratios the model reads (income × 0.6 moves three of them),
        the probability and the band; `risk_score` and `decision` are left out, being the
        probability and the band again. About 0.1 ms an instance (measured on a loaded 2-core
        machine: docs/drift.md)."""
        out = []
        for instance, prediction in zip(instances, predictions, strict=True):
            row = {f.name: instance.get(f.name) for f in self.spec.fields}
            row.update({r.name: round(ratio_value(instance, r), 6) for r in self.spec.ratios})
            row["output.probability_of_default"] = prediction["probability_of_default"]
            row["output.band"] = prediction["band"]
            out.append(row)
        return out

    def _grouped_contributions(self, x: np.ndarray) -> np.ndarray:
        """Contributions summed per reported feature (one-hot columns → their field)."""
        return self.scorer.contributions(x, self.group_matrix)

    def _answers(self, instances: list[dict], probability: np.ndarray,
                 contributions: np.ndarray, ratios: np.ndarray) -> list[dict]:
        """Each row's answer: its top reasons by |contribution| (one argsort of the batch, row by
        row as numpy sorts one row), each quoting the field as sent or the derived ratio. The
        contributions and probabilities are rounded for the whole batch at once (`exact_round`:
        Python's `round`, bit for bit); what is left a row is building its dicts."""
        order = np.argsort(-np.abs(contributions), axis=1)[:, : self.settings.top_reasons]
        picked = contributions[np.arange(len(order))[:, None], order]
        answers = []
        for instance, p, score, band, indices, rounded, increases, derived in zip(
                instances, exact_round(probability, 6), risk_scores(probability),
                band_names(probability, self.medium_from, self.high_from),
                order.tolist(), exact_round(picked, 4), (picked > 0).tolist(),
                ratios.tolist(), strict=True):
            reasons = []
            for idx, contribution, up in zip(indices, rounded, increases, strict=True):
                feature, ratio = self.reason_sources[idx]
                reasons.append({
                    "feature": feature,
                    "value": instance.get(
                        feature, None if ratio is None else round(derived[ratio], 4)),
                    "contribution": contribution,
                    "direction": "increases_risk" if up else "decreases_risk",
                })
            answers.append({
                "probability_of_default": p,
                "risk_score": score,
                "band": band,
                "decision": DECISIONS[band],
                "reasons": reasons,
            })
        return answers
