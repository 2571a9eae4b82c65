"""A window of the prediction log → one drift report per served version.

The drift monitor (monitor/), the CLI and the tests share this: read the model's last
`seconds` of logged predictions (at most `max_records`, the newest), group them by version —
production, canary, shadow and version-addressed records alike, since each version has its own
reference profile — and compare each version's logged `features` (the model's own
`drift_features`, computed by the log's writer) with that version's profile (`kit.drift`).

The retraining job's drift check and `finfleet drift report` read their window's features
with `window_features`, which also recomputes them for a log written before the features
column existed.

A version is not scored, with the reason said, when it has fewer than `minimum` records with
features ("not enough data") or its artifact carries no profile ("no reference profile").
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kit.artifacts import Artifact
from kit.drift import CRITICAL, WARNING, DriftReport, compare
from kit.predlog_store import LogStore

NOT_ENOUGH_DATA = "not enough data"
NO_PROFILE = "no reference profile"
FIRST_SPAN = 60.0  # seconds: the first read of a window (read_window)
READ_FACTOR = 20  # a read never widens past this many times max_records rows


@dataclass(frozen=True)
class WindowSpec:
    """How much of the log one run reads, and how much it needs before it scores."""

    seconds: float = 3600.0
    max_records: int = 5000
    minimum: int = 100


@dataclass
class VersionDrift:
    """One version's part of the window: its report, or why there is none."""

    version: str
    records: int  # logged predictions of this version in the window
    scored: int  # those with features (older rows have none)
    served_by: dict[str, int] = field(default_factory=dict)
    since: float | None = None  # the oldest and newest record's time (unix seconds)
    until: float | None = None
    report: DriftReport | None = None
    reason: str | None = None  # why not scored (report is None)

    @property
    def score(self) -> float | None:
        return self.report.score if self.report else None

    def as_dict(self) -> dict[str, Any]:
        report = self.report.as_dict() if self.report else None
        return {"version": self.version, "records": self.records, "scored": self.scored,
                "served_by": self.served_by, "since": self.since, "until": self.until,
                "score": self.score, "level": self.report.level if self.report else None,
                "reason": self.reason, "input_score": report and report["input_score"],
                "output_score": report and report["output_score"],
                "drifted": report["drifted"] if report else [],
                "features": report["features"] if report else {}}


def read_window(store: LogStore, model: str, spec: WindowSpec, now: float | None = None
                ) -> list[dict[str, Any]]:
    """The model's logged predictions of the last `spec.seconds` back to the `max_records`-th
    newest one with features (the log features a budgeted sample of a busy service's records:
    the window holds that many scored records, and every record logged beside them is counted).

    The read starts with the last minute and widens fourfold until it holds enough, spans the
    window, or holds READ_FACTOR × max_records rows (a log without features), so a busy
    model's hour (hundreds of thousands of records) is never read and decoded whole."""
    now = time.time() if now is None else now
    span = min(spec.seconds, FIRST_SPAN)
    while True:
        rows = store.read_predictions(model, since=now - span)
        featured = [i for i, row in enumerate(rows) if has_features(row)]
        if (len(featured) >= spec.max_records or span >= spec.seconds
                or len(rows) >= READ_FACTOR * spec.max_records):
            break
        span = min(spec.seconds, span * 4)
    if not featured:  # an older log: the newest records, none of them scored
        return rows[-spec.max_records:]
    if len(featured) <= spec.max_records:
        return rows[-READ_FACTOR * spec.max_records:]
    return rows[featured[-spec.max_records]:]


def has_features(row: dict[str, Any]) -> bool:
    return isinstance(row.get("features"), dict)


def version_reports(rows: Iterable[dict[str, Any]],
                    profile_of: Callable[[str], dict[str, Any] | None],
                    minimum: int) -> dict[str, VersionDrift]:
    """Per version (newest records last): its DriftReport against `profile_of(version)`, or
    the reason it has none. `profile_of` is asked only for versions with enough data."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["version"]), []).append(row)
    out = {}
    for version, group in groups.items():
        features = [row["features"] for row in group if has_features(row)]
        drift = VersionDrift(version, len(group), len(features),
                             dict(Counter(row["served_by"] for row in group)),
                             group[0]["ts"], group[-1]["ts"])
        if len(features) < minimum:
            drift.reason = f"{NOT_ENOUGH_DATA}: {len(features)} of {minimum} records"
        else:
            try:
                profile = profile_of(version)
            except Exception as exc:  # pruned or unreadable: this version only, the others go on
                drift.reason = f"artifact unreadable: {type(exc).__name__}: {exc}"
                out[version] = drift
                continue
            if profile is None:
                drift.reason = NO_PROFILE
            else:
                drift.report = compare(profile, features)
        out[version] = drift
    return out


def window_features(name: str, serving: Artifact, rows: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    """The window's drift features: the log's `features` column (a sample of records, computed
    by the version that answered) where the window has any; else, for a log written before it,
    the serving version's own hook on the logged instances and answers (instances whose text
    the log summarised cannot be recomputed and are left out)."""
    features = [r["features"] for r in rows if has_features(r)]
    if features:
        return features
    from kit.gate import served_model

    model = served_model(name, serving)
    text_fields = model.log_text_fields
    usable = [r for r in rows if isinstance(r.get("input"), dict)
              and all(isinstance(r["input"].get(f), str) for f in text_fields)]
    try:
        for start in range(0, len(usable), 256):
            chunk = usable[start:start + 256]
            features.extend(model.drift_features([r["input"] for r in chunk],
                                                 [r["output"] for r in chunk]))
    finally:
        closer = getattr(model, "close", None)
        if closer is not None:
            closer()
    return features


def thresholds() -> dict[str, float]:
    return {"warning": WARNING, "critical": CRITICAL}
