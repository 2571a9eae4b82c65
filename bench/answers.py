"""Answers equal: every peer serves the credit artifact's own booster, so for a fixed set of
applicants its probability, put through the manifest's calibration, must equal the credit
service's `probability_of_default` within 1e-6. A peer that answers otherwise is a broken
harness (wrong encoding, wrong output, wrong model), not a benchmark: its points are dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

from kit.procs import post_json

TOLERANCE = 1e-6
APPLICANTS = 24
SEED = 11


def applicants(n: int = APPLICANTS, seed: int = SEED) -> list[dict[str, Any]]:
    """Generated applications (the project's own generator, a fixed seed), JSON-safe."""
    from services.credit.data import generate_applications

    frame = generate_applications(n=n, seed=seed).frame
    return json.loads(frame.to_json(orient="records"))


def probabilities(kind: str, answer: Any) -> list[float]:
    """The per-row probabilities of a peer's answer: a V2 response (MLServer) or a list."""
    if kind == "v2":
        return [float(v) for v in answer["outputs"][0]["data"]]
    if isinstance(answer, list):
        return [float(v) for v in answer]
    raise ValueError(f"expected a list of probabilities, got {str(answer)[:120]}")


def calibrate(raw: list[float], slope: float, intercept: float) -> list[float]:
    """The credit model's calibration (services/credit/model.py) on raw booster probabilities."""
    out = []
    for p in raw:
        p = min(max(p, 1e-12), 1 - 1e-12)
        out.append(1 / (1 + math.exp(-(slope * math.log(p / (1 - p)) + intercept))))
    return out


def max_difference(ours: list[float], theirs: list[float]) -> float:
    if len(ours) != len(theirs):
        return math.inf
    return max((abs(a - b) for a, b in zip(ours, theirs, strict=True)), default=0.0)


def compare(ours: list[float], raw: list[float], calibration: dict[str, float]) -> float:
    """The largest |ours − calibrated(peer)| over the applicants (inf when the counts differ)."""
    return max_difference(ours, calibrate(raw, calibration["slope"], calibration["intercept"]))


def check(credit_url: str, peers: dict[str, tuple[str, str]], body: Callable[[str, list], dict],
          calibration: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Post the applicants to credit and to each peer (route → (url, body kind)); per peer the
    largest difference, whether it is within TOLERANCE, and why not when it could not tell."""
    rows = applicants()
    status, answer = post_json(credit_url, orjson.dumps({"instances": rows}))
    if status != 200:
        raise RuntimeError(f"credit answered {status}: {answer[:200].decode(errors='replace')}")
    ours = [p["probability_of_default"] for p in orjson.loads(answer)["predictions"]]
    out: dict[str, dict[str, Any]] = {}
    for route, (url, kind) in peers.items():
        try:
            status, answer = post_json(url, orjson.dumps(body(kind, rows)))
            if status != 200:
                raise ValueError(f"answered {status}: {answer[:200].decode(errors='replace')}")
            diff = compare(ours, probabilities(kind, orjson.loads(answer)), calibration)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            out[route] = {"equal": False, "max_abs_diff": None, "reason": str(exc)}
            continue
        out[route] = {"equal": diff <= TOLERANCE, "max_abs_diff": diff, "reason": "" if
                      diff <= TOLERANCE else f"differs from credit by up to {diff:.3g}"}
    return out
