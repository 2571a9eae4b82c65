"""The shadow side of the bench: the candidate on a credit replica of its own (niced), and a
second gateway in front of the same production service copying every credit request to that
replica (`shadow_percent: 100`, `GATEWAY_CANDIDATE_UPSTREAMS`) — docs/releases.md's
recommended shape.

The candidate is the production model published again under another version name, in a
temporary copy of the model dir (the checkout's `models/` is never written): both versions
answer alike, so what the shadow points measure is the copy's cost to the caller, not a
different model's speed. The points without shadow keep the plain gateway and credit service.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

from kit.registry import CANDIDATE, PRODUCTION, FileRegistry

MODEL = "credit"
SHADOW_SERVICE = "credit-candidate"  # the fleet's name for the candidate's own credit replica
CANDIDATE_NICE = 10  # its lower CPU priority: on a shared box, shadow work never takes the caller's
SHADOW_GATEWAY = "gateway-shadow"  # the fleet's name for the gateway with the shadow policy
CANDIDATE_SUFFIX = "-candidate"
TRAFFIC = {MODEL: {"shadow_percent": 100}}
OUTCOMES = ("sent", "remembered", "dropped", "failed")
_COUNTER = re.compile(r'^finfleet_shadow_requests_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)',
                      re.MULTILINE)


def production_version(model_dir: Path, name: str = MODEL) -> str | None:
    """The version the plain service serves: the `production` alias, else the newest."""
    resolved = FileRegistry(model_dir, name).resolve(PRODUCTION)
    return resolved.version if resolved else None


def candidate_model_dir(source: Path, version: str, target: Path, name: str = MODEL) -> str:
    """Copy `source/<name>/<version>` into `target/<name>/`, publish it again as
    `<version>-candidate` (its manifest's `version` fixed, as `tests/procs.copy_as_new_version`
    does) and point the aliases: production → version, candidate → the copy. Returns the
    candidate's version."""
    root = target / name
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / name / version, root / version)
    candidate = version + CANDIDATE_SUFFIX
    shutil.copytree(root / version, root / candidate)
    manifest_path = root / candidate / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = candidate
    manifest_path.write_text(json.dumps(manifest, indent=2))
    registry = FileRegistry(target, name)
    why = "bench: shadow points (the production model again, under another name)"
    registry.set_alias(PRODUCTION, version, actor="bench", reason=why)
    registry.set_alias(CANDIDATE, candidate, actor="bench", reason=why)
    return candidate


def get_json(url: str, timeout_s: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return json.loads(resp.read())


def wait_until(check, timeout_s: float, every_s: float = 0.2) -> bool:
    """Call `check()` until it is true (OSError and KeyError count as not yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return True
        except (OSError, KeyError, ValueError):
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)


def service_serves(service_url: str, version: str) -> bool:
    """Whether the replica answers with `version` (the candidate replica serves it as its
    production slot: the alias it follows is `candidate`)."""
    return version in get_json(service_url + "/health/ready").get("loaded", {}).values()


def traffic_report(gateway_url: str) -> dict:
    return get_json(f"{gateway_url}/v1/models/{MODEL}/traffic")


def gateway_knows(gateway_url: str, candidate: str) -> bool:
    return traffic_report(gateway_url)["policy"]["candidate_version"] == candidate


def parse_counts(metrics_text: str, name: str = MODEL) -> dict[str, int]:
    """`finfleet_shadow_requests_total{model=name, outcome=…}` → {outcome: count} (0 if unseen)."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for match in _COUNTER.finditer(metrics_text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("model") == name and labels.get("outcome") in counts:
            counts[labels["outcome"]] = int(float(match["value"]))
    return counts


def counts(gateway_url: str) -> dict[str, int]:
    with urllib.request.urlopen(gateway_url + "/metrics", timeout=5) as resp:
        return parse_counts(resp.read().decode())


def settle(gateway_url: str, timeout_s: float = 30.0) -> dict[str, int]:
    """Wait until the shadow queue is empty and the counters stop moving (the calls in flight
    have finished), so the candidate's backlog never slows the next point; the counts then."""
    wait_until(lambda: traffic_report(gateway_url)["shadow_queue"]["queued"] == 0, timeout_s,
               every_s=0.05)
    last = counts(gateway_url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = counts(gateway_url)
        if now == last:
            return now
        last = now
    return last


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in OUTCOMES}
