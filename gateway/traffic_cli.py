"""`python -m gateway.traffic_cli`: a model's traffic policy and how its candidate compares,
from a running gateway's admin routes.

    python -m gateway.traffic_cli show credit
    python -m gateway.traffic_cli set credit --canary 10 --shadow 0

`--url` (default http://127.0.0.1:8000, or GATEWAY_URL) and `--admin-key` (or
FINFLEET_ADMIN_KEY) say which gateway and how to get in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from gateway.compare import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.traffic_cli",
                                     description="Canary and shadow traffic per model.")
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--admin-key", default=os.environ.get("FINFLEET_ADMIN_KEY"))
    parser.add_argument("--json", action="store_true", help="print the JSON answer")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="policy, versions, comparison and latency")
    show.add_argument("name")
    change = sub.add_parser("set", help="set the canary and shadow shares (percent)")
    change.add_argument("name")
    change.add_argument("--canary", type=float, default=0.0)
    change.add_argument("--shadow", type=float, default=0.0)
    args = parser.parse_args(argv)
    headers = {"Content-Type": "application/json"}
    if args.admin_key:
        headers["Authorization"] = f"Bearer {args.admin_key}"
    path = f"{args.url.rstrip('/')}/admin/models/{args.name}/traffic"
    data = None if args.command == "show" else json.dumps(
        {"canary_percent": args.canary, "shadow_percent": args.shadow}).encode()
    request = urllib.request.Request(path, data, headers, method="GET" if data is None else "PUT")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
        print(f"error {exc.code}: {detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {args.url} did not answer: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(body, indent=2) if args.json else describe(body))
    return 0


def describe(report: dict[str, Any]) -> str:
    policy = report["policy"]
    lines = [f"{report['model']}: production {report['production_version'] or '-'}, "
             f"candidate {policy['candidate_version'] or '-'}",
             f"canary {policy['canary_percent']:g} %, shadow {policy['shadow_percent']:g} %; "
             f"shadow queue {report['shadow_queue']['queued']}/{report['shadow_queue']['max']}"]
    if policy.get("note"):
        lines.append(policy["note"])
    return "\n".join([*lines, "", render(report["comparison"]), "",
                      *quality_lines(report.get("live_quality") or {})])


def quality_lines(quality: dict[str, Any]) -> list[str]:
    """Each version's live quality on its labelled answers, then both versions on the same
    labelled requests the candidate shadowed."""
    if "error" in quality:
        return [f"live quality: unavailable ({quality['error']})"]
    versions = quality.get("versions") or {}
    if not versions:
        return ["live quality: no outcomes in the window yet"]
    lines = ["live quality on labelled answers:"]
    for version, v in versions.items():
        served = ", ".join(f"{k} {n}" for k, n in sorted(v["served_by"].items()))
        lines.append(f"  {version}: {_metrics(v['metrics'])}  ({v['labelled']} labelled: "
                     f"{served})")
    for candidate, both in (quality.get("shadowed") or {}).items():
        lines.append(f"  same {both['requests']} labelled requests, shadowed by {candidate}: "
                     f"production {_metrics(both['production'])} | candidate "
                     f"{_metrics(both['candidate'])}")
    return lines


def _metrics(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in metrics.items()) or "-"


if __name__ == "__main__":
    sys.exit(main())
