"""AnomalyModel: profile features → ONNX Isolation Forest → score, threshold decision, reasons."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from kit.artifacts import Artifact
from kit.errors import ProblemError
from kit.model import ServedModel, validate_instances
from kit.quality import ranking
from kit.stores import record_store
from services.anomaly.features import FEATURE_NAMES, LOCAL_TZ, NIGHT_HOURS, AmountPrior, Tx
from services.anomaly.forest import ForestScorer
from services.anomaly.profiles import ProfileStore
from services.anomaly.reasons import ReasonRanker
from services.anomaly.schema import (
    AnomalyInstance,
    AnomalyPrediction,
    Feedback,
    FeedbackLabel,
    Transaction,
)
from services.anomaly.settings import AnomalySettings

_INSTANCES = TypeAdapter(AnomalyInstance)


def to_tx(transaction: Transaction, tx_id: str) -> Tx:
    when = transaction.timestamp
    local = when.replace(tzinfo=LOCAL_TZ) if when.tzinfo is None else when.astimezone(LOCAL_TZ)
    return Tx(t=local.timestamp(), amount=transaction.amount, merchant=transaction.counterparty,
              category=transaction.category, hour=local.hour + local.minute / 60.0,
              weekday=local.weekday(), tx_id=tx_id)


class UnknownTransaction(ProblemError):
    status = 404
    title = "Unknown transaction"
    slug = "unknown-transaction"


class AnomalyModel(ServedModel):
    """Scores transactions against their user's profile and updates the profile as it goes;
    a shadow prediction (`predict_shadow`, also the warm-up) scores the same way and records
    nothing.

    With the in-process store a scored transaction costs well under a millisecond, so predict
    runs on the event loop (which also serialises profile updates); with Redis it is offloaded.
    """

    name = "anomaly"
    prediction_model = AnomalyPrediction
    log_user_fields = ("user_id",)
    log_text_fields = ("transaction.description",)
    log_key_field = "transaction_id"  # feedback names a prediction by it
    outcome_label = FeedbackLabel

    @classmethod
    def live_quality(cls, pairs: list[tuple[Any, Any]]) -> dict[str, float]:
        return ranking(pairs, lambda p: p["score"], lambda y: y == "fraud")

    def __init__(self, settings: AnomalySettings) -> None:
        super().__init__(settings)
        self.offload = bool(settings.redis_url)
        self.profiles = ProfileStore(
            record_store(settings.redis_url, "anomaly"),
            record_store(settings.redis_url, "anomaly-feedback", settings.feedback_log_max),
            max_history=settings.profile_max_transactions,
        )

    def load(self, artifact: Artifact) -> None:
        reference = json.loads(artifact.file("reference.json").read_text())
        self.columns = [FEATURE_NAMES.index(f) for f in reference["model_features"]]
        self.prior = AmountPrior(**reference["amount_prior"])
        self.scorer = ForestScorer(artifact.file("model.onnx"))
        self.ranker = ReasonRanker(reference["feature_quantile_levels"],
                                   reference["feature_quantiles"])
        self.threshold = float(artifact.manifest["threshold"]["score"])
        super().load(artifact)

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        return self._score(instances, record=True)

    def predict_shadow(self, instances: list[Any]) -> list[dict[str, Any]]:
        """The scores predict would give now, against the profiles as they stand; no profile,
        merchant count or transaction record is written (the warm-up is one of these)."""
        return self._score(instances, record=False)

    def adopt_state(self, previous: ServedModel) -> None:
        """The user and merchant profiles outlive a model version."""
        self.close()
        self.profiles = previous.profiles  # type: ignore[attr-defined]

    def _score(self, instances: list[Any], *, record: bool) -> list[dict[str, Any]]:
        """Each transaction's features from its profiles, scored; `record`: each then joins its
        profiles (`ProfileStore.observe`), else they are only read (`ProfileStore.features`)."""
        parsed: list[AnomalyInstance] = validate_instances(_INSTANCES, instances)
        ids = [p.transaction_id or uuid.uuid4().hex for p in parsed]
        featurize = self.profiles.observe if record else self.profiles.features
        rows = [featurize(p.user_id, to_tx(p.transaction, tx_id), self.prior)
                for p, tx_id in zip(parsed, ids, strict=True)]
        features = np.asarray(rows, dtype=np.float32)
        scores = self.scorer.score(features[:, self.columns])
        limit = self.settings.max_reasons
        return [
            {"transaction_id": tx_id, "score": round(float(score), 4),
             "is_anomaly": bool(score >= self.threshold),
             "reasons": self.ranker.reasons(row, limit)}
            for tx_id, score, row in zip(ids, scores, rows, strict=True)
        ]

    def drift_features(self, instances: list[Any], predictions: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        """What the caller sent — amount, category, channel (ids left out) — with the features
        the model family computes from the transaction alone: local hour and is_night (not
        weekday or is_weekend, which any window shorter than a week shifts); then the score and
        decision. About 0.1 ms an instance (parsing the transaction). The hour has a daily
        cycle, so a window must span whole days of traffic (docs/drift.md)."""
        rows = []
        for instance, prediction in zip(instances, predictions, strict=True):
            transaction = Transaction.model_validate(instance["transaction"])
            tx = to_tx(transaction, "")
            rows.append({"amount": tx.amount, "hour": round(tx.hour, 3),
                         "is_night": NIGHT_HOURS[0] <= tx.hour < NIGHT_HOURS[1],
                         "category": transaction.category,
                         "channel": transaction.channel,
                         "output.score": prediction["score"],
                         "output.is_anomaly": prediction["is_anomaly"]})
        return rows

    def record_feedback(self, feedback: Feedback, now: float | None = None) -> dict[str, Any]:
        entry = self.profiles.record_feedback(feedback.transaction_id, feedback.label,
                                              feedback.note, now=now)
        if entry is None:
            raise UnknownTransaction(
                f"transaction {feedback.transaction_id!r} was never scored here (or has expired)",
                errors=[{"field": "transaction_id", "message": "unknown transaction",
                         "type": "not_found"}],
            )
        return entry

    def input_schema(self) -> dict[str, Any]:
        return AnomalyInstance.model_json_schema()

    def metadata(self) -> dict[str, Any]:
        manifest = self.artifact.manifest if self.artifact else {}
        return {**super().metadata(), "threshold": manifest.get("threshold"),
                "features": manifest.get("features", manifest.get("feature_schema"))}

    def close(self) -> None:
        for store in {id(s): s for s in (self.profiles.store, self.profiles.feedback_log)}.values():
            closer = getattr(store, "close", None)
            if closer:
                closer()
