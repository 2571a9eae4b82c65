"""The model protocol every service implements: load an artifact, predict a batch, describe."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from kit.artifacts import Artifact
from kit.errors import InvalidInput, pydantic_errors
from kit.profile import PROFILE_KEY, scalar_features


class ServedModel:
    """Base for a service's model. Subclasses override `load` and `predict` (no HTTP in here).

    `offload` sends predict to the kit's bounded thread pool, so a slow batch never blocks probes;
    a model whose predict takes microseconds sets it False and runs on the event loop.
    `inline_max_instances`: an offloaded model whose one instance takes a few milliseconds still
    runs a request that small on the event loop when it is the only model call in flight: the
    thread hop (~0.4 ms, plus a cold core) is a tenth of such a request. Under concurrent load,
    requests go to the pool as before and use every core.
    """

    name: ClassVar[str] = "model"
    offload: ClassVar[bool] = True
    inline_max_instances: ClassVar[int] = 0
    # Adaptive batching across requests (kit/batching.py) by default: "auto" or "on" where one
    # call on many instances is measured to pay (docs/batching.md), else "off".
    # A batching model splits predict into `prepare` (validation, per caller) and
    # `predict_prepared` (the model call on many callers' prepared instances at once).
    batching: ClassVar[str] = "off"
    # How long a free predict thread waits for more callers (<NAME>_BATCH_WINDOW_MS overrides);
    # 0: take what queued while the threads were busy (a 1 ms window left a core idle: 1.36x
    # instead of 1.72x intent req/s at 16 connections, docs/batching.md).
    batch_window_ms: ClassVar[float] = 0.0
    # Most instances in one gathered call (<NAME>_BATCH_MAX_ITEMS overrides); a caller bigger
    # than what is left waits for the next call, so this also says how many callers can share.
    batch_max_items: ClassVar[int] = 32
    # The shape of one prediction: documented in OpenAPI and checked by the contract tests.
    prediction_model: ClassVar[type[BaseModel] | None] = None
    # Drift features' weights in the dataset score, by name or `prefix.` (default 1; 0: reported,
    # not counted); training writes them into the reference profile (kit/profile.py).
    drift_weights: ClassVar[dict[str, float]] = {}
    # Drift features computed for at most this many logged predictions a second (the log's
    # thread pays them in the serving process): cheap ones for every request of a busy credit
    # service, a text encoder's for a sample.
    drift_features_per_second: ClassVar[float] = 100.0
    # The prediction log (kit/predlog.py): instance fields (dotted paths) holding user ids,
    # hashed with the salt; free-text fields, logged only when <NAME>_LOG_INPUTS allows; the
    # prediction's field its callers know it by (anomaly: transaction_id), for outcomes.
    log_user_fields: ClassVar[tuple[str, ...]] = ()
    log_text_fields: ClassVar[tuple[str, ...]] = ()
    log_key_field: ClassVar[str | None] = None
    # What an outcome's `label` is (POST /v1/models/<name>/outcomes validates it).
    outcome_label: ClassVar[Any] = Any

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.artifact: Artifact | None = None

    def load(self, artifact: Artifact) -> None:
        self.artifact = artifact

    def predict(self, instances: list[Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def prepare(self, instances: list[Any]) -> list[Any]:
        """A request's instances validated (InvalidInput names the bad ones), ready for
        `predict_prepared`; run per caller before batching, so one bad instance fails only its
        own request."""
        return instances

    def predict_prepared(self, prepared: list[Any]) -> list[dict[str, Any]]:
        """Predictions for prepared instances, possibly several callers' at once; a batching
        model's answer for an instance must not depend on its neighbours."""
        return self.predict(prepared)

    def predict_shadow(self, instances: list[Any]) -> list[dict[str, Any]]:
        """A prediction that writes no state: what `predict` would answer now, recording
        nothing (a shadow copy of a caller's request, a warm-up). Stateless models keep the
        default; a model whose predict records what it saw overrides it with a read-only path."""
        return self.predict(instances)

    def adopt_state(self, previous: ServedModel) -> None:
        """Take over what `previous` (the version this one replaces) keeps between requests,
        so a hot swap loses no user state. Stateless models keep nothing."""

    def warm_up(self, example: dict[str, Any] | None) -> None:
        """One prediction before this version serves (a broken model fails here, not in a
        caller's request); a shadow one, so a warm-up writes no state."""
        if example is not None:
            self.predict_shadow([example])

    def drift_features(self, instances: list[Any], predictions: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
        """One flat dict per instance (numbers and categories; the answer's under `output.`):
        what drift is measured on. Training profiles its data with it (kit/profile.py) and the
        prediction log calls it on sampled served records, so both sides compute features
        once, the same way. Default: the scalar fields of the instance and of the prediction."""
        return [scalar_features(i, p) for i, p in zip(instances, predictions, strict=True)]

    def fit_drift(self, instances: list[Any]) -> dict[str, Any]:
        """What `drift_features` needs fitted on the training data (a text model's vocabulary
        and embedding projection); training stores it in the profile as `state`."""
        return {}

    @property
    def drift_state(self) -> dict[str, Any]:
        """The fitted state from this version's profile; {} before profiles existed."""
        manifest = self.artifact.manifest if self.artifact else {}
        return (manifest.get(PROFILE_KEY) or {}).get("state") or {}

    def input_schema(self) -> dict[str, Any]:
        return {}

    @classmethod
    def live_quality(cls, pairs: list[tuple[Any, Any]]) -> dict[str, float]:
        """Metric name → value over (logged prediction, outcome label) pairs (kit/quality.py),
        computed in the background for `finfleet_live_quality`."""
        return {}

    @classmethod
    def output_schema(cls) -> dict[str, Any]:
        """One prediction's JSON schema (from `prediction_model`); known before any load."""
        if cls.prediction_model is None:
            return {"type": "object"}
        return cls.prediction_model.model_json_schema(mode="serialization")

    def metadata(self) -> dict[str, Any]:
        """What `GET /v1/models/<name>` answers: provenance, holdout metrics, input schema."""
        manifest = self.artifact.manifest if self.artifact else {}
        return {
            "name": self.name,
            "version": manifest.get("version"),
            "trained_at": manifest.get("created_at"),
            "data_sha256": manifest.get("data_sha256"),
            "metrics": manifest.get("metrics", {}),
            "parameters": manifest.get("parameters", {}),
            "input_schema": self.input_schema(),
            "output_schema": self.output_schema(),
            "libraries": manifest.get("libraries", {}),
        }

    @property
    def version(self) -> str:
        return self.artifact.version if self.artifact else "unloaded"


def validate_instances(adapter: TypeAdapter, instances: list[Any]) -> list[Any]:
    """Validate each instance with a pydantic adapter; errors name `instances[i].field`."""
    parsed, errors = [], []
    for i, raw in enumerate(instances):
        try:
            parsed.append(adapter.validate_python(raw))
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc, prefix=f"instances[{i}]"))
    if errors:
        raise InvalidInput(f"{len(errors)} invalid field(s) in the instances", errors=errors)
    return parsed
