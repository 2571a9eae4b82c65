"""The served NER model: a spaCy pipeline run over a batch with `nlp.pipe`, then normalised."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, ClassVar

import spacy
from spacy.tokens import Doc, Span

from kit import Artifact, InvalidInput, ServedModel
from kit.model import validate_instances
from kit.profile import fit_text_state, hashed_bag, text_drift_features
from kit.quality import span_f1
from services.ner import gate, merchants  # noqa: F401  (register the pipeline's own steps)
from services.ner.amounts import normalise_money
from services.ner.dates import normalise_date
from services.ner.schema import (
    BUILT_IN_LABELS,
    INSTANCE,
    NerInstance,
    NerPrediction,
    SpanLabel,
    input_json_schema,
)
from services.ner.settings import NerSettings

DRIFT_COMPONENTS = 5  # the hashed bag of words' PCA components in the reference profile
LABELS = BUILT_IN_LABELS  # the output counts drift watches (not a version's own labels)


def _texts(instances: list[Any]) -> list[str]:
    return [str(i.get("text", "") if isinstance(i, dict) else i) for i in instances]


# The artifact's folder that holds the spaCy pipeline (training writes it, serving reads it).
PIPELINE_DIR = "pipeline"


def normalised_value(span: Span, reference: date) -> dict[str, Any] | None:
    if span.label_ == "MONEY":
        return normalise_money(span.text)
    if span.label_ == "DATE":
        return normalise_date(span.text, reference)
    return None


def entities_of(doc: Doc, reference: date) -> list[dict[str, Any]]:
    return [
        {"text": span.text, "label": span.label_, "start": span.start_char,
         "end": span.end_char, "value": normalised_value(span, reference)}
        for span in doc.ents
    ]


class NerModel(ServedModel):
    """MONEY, DATE, CATEGORY, MERCHANT and ACCOUNT entities with amounts and dates normalised."""

    name = "ner"
    prediction_model = NerPrediction
    offload = True  # about a millisecond per sentence: keep batches off the event loop
    inline_max_instances = 1  # but a lone sentence skips the thread hop
    batching = "auto"  # concurrent sentences through one nlp.pipe (docs/batching.md)
    drift_features_per_second: ClassVar[float] = 20.0  # ~0.4 ms a sentence
    log_text_fields = ("text",)
    outcome_label = list[SpanLabel]

    @classmethod
    def live_quality(cls, pairs: list[tuple[Any, Any]]) -> dict[str, float]:
        return span_f1(pairs, lambda p: [(e["start"], e["end"], e["label"]) for e in p["entities"]],
                       lambda y: [(e["start"], e["end"], e["label"]) for e in y])

    def __init__(self, settings: NerSettings) -> None:
        super().__init__(settings)
        self.nlp: spacy.language.Language | None = None

    def load(self, artifact: Artifact) -> None:
        self.nlp = spacy.load(artifact.file(PIPELINE_DIR))
        super().load(artifact)

    def input_schema(self) -> dict[str, Any]:
        return input_json_schema()

    def metadata(self) -> dict[str, Any]:
        """Adds the labels this version finds: the built-in ones and any it was trained with."""
        manifest = self.artifact.manifest if self.artifact else {}
        return {**super().metadata(), "labels": manifest.get("labels") or list(BUILT_IN_LABELS)}

    def parse(self, instances: list[Any]) -> list[NerInstance]:
        """Plain strings are accepted as `{"text": ...}`; over-long texts are refused by field."""
        wrapped = [{"text": i} if isinstance(i, str) else i for i in instances]
        parsed: list[NerInstance] = validate_instances(INSTANCE, wrapped)
        limit = self.settings.max_text_length
        errors = [
            {"field": f"instances[{i}].text", "type": "string_too_long",
             "message": f"{len(p.text)} characters; the limit is {limit}"}
            for i, p in enumerate(parsed) if len(p.text) > limit
        ]
        if errors:
            raise InvalidInput(f"{len(errors)} text(s) longer than {limit} characters",
                               errors=errors)
        return parsed

    def fit_drift(self, instances: list[Any]) -> dict[str, Any]:
        texts = _texts(instances)
        return fit_text_state(texts, hashed_bag(texts), DRIFT_COMPONENTS)

    def drift_features(self, instances: list[Any], predictions: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        """Length, unknown-token share and a hashed bag of words' PCA projection (the pipeline
        has no sentence embedding of its own), then the entities found, in all and per label.
        About 0.4 ms a sentence (measured on a loaded 2-core machine: docs/drift.md)."""
        rows = text_drift_features(_texts(instances), self.drift_state, hashed_bag)
        for row, prediction in zip(rows, predictions, strict=True):
            labels = Counter(e["label"] for e in prediction["entities"])
            row["output.entities"] = len(prediction["entities"])
            row.update({f"output.{label.lower()}": labels[label] for label in LABELS})
        return rows

    def prepare(self, instances: list[Any]) -> list[NerInstance]:
        return self.parse(instances)

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        return self.predict_prepared(self.parse(instances))

    def predict_prepared(self, parsed: list[NerInstance]) -> list[dict[str, Any]]:
        today = date.today()
        docs = self.nlp.pipe((p.text for p in parsed), batch_size=self.settings.batch_size)
        return [
            {"entities": entities_of(doc, p.reference_date or today),
             "reference_date": (p.reference_date or today).isoformat()}
            for doc, p in zip(docs, parsed, strict=True)
        ]
