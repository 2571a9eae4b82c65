"""IntentModel: text → MiniLM embedding (ONNX Runtime) → linear head → label, with out-of-scope."""

from __future__ import annotations

from typing import Any

import numpy as np

from kit.artifacts import Artifact
from kit.model import ServedModel, validate_instances
from kit.quality import accuracy
from services.intent.encoder import OnnxSentenceEncoder
from services.intent.head import LinearHead
from services.intent.schema import IntentLabel, IntentPrediction, instance_adapter
from services.intent.settings import IntentSettings

ALTERNATIVES = 3


class IntentModel(ServedModel):
    """Predicts a whole request as one batch: one tokenizer call, one ONNX run, one matmul."""

    name = "intent"
    prediction_model = IntentPrediction
    offload = True
    inline_max_instances = 1  # one query is ~3 ms of ONNX: no thread hop when it is the only call
    log_text_fields = ("text",)
    outcome_label = IntentLabel

    @classmethod
    def live_quality(cls, pairs: list[tuple[Any, Any]]) -> dict[str, float]:
        return accuracy(pairs, lambda p: p["label"])

    def __init__(self, settings: IntentSettings | None = None) -> None:
        super().__init__(settings or IntentSettings())
        self.adapter = instance_adapter(self.settings.max_text_length)
        self.encoder: OnnxSentenceEncoder | None = None
        self.head: LinearHead | None = None

    def load(self, artifact: Artifact) -> None:
        encoder = artifact.manifest["encoder"]
        self.encoder = OnnxSentenceEncoder(
            artifact.file(encoder["file"]), artifact.file(encoder["tokenizer"]),
            threads=self.settings.onnx_threads,
        )
        self.head = LinearHead.load(artifact.path)
        super().load(artifact)

    def classify(self, texts: list[str]) -> list[dict[str, Any]]:
        """Texts already validated → predictions in the same order."""
        probabilities = self.head.probabilities(self.encoder.encode(texts), texts)
        labels, confidences = self.head.decide(probabilities)
        ranked = np.argsort(-probabilities, axis=1)
        out = []
        for row, order, label, confidence in zip(
            probabilities, ranked, labels, confidences, strict=True
        ):
            others = [j for j in order if self.head.labels[j] != label][:ALTERNATIVES]
            out.append({
                "label": label,
                "confidence": round(float(confidence), 4),
                "alternatives": [
                    {"label": self.head.labels[j], "confidence": round(float(row[j]), 4)}
                    for j in others
                ],
            })
        return out

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        parsed = validate_instances(self.adapter, instances)
        return self.classify([item.text for item in parsed])

    def input_schema(self) -> dict[str, Any]:
        return self.adapter.json_schema()

    def metadata(self) -> dict[str, Any]:
        meta = super().metadata()
        if self.artifact:
            meta["labels"] = self.head.labels
            meta["encoder"] = self.artifact.manifest.get("encoder", {})
        return meta
