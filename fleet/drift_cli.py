"""`finfleet drift`: a model's drift, as the monitor sees it, from a running gateway (or the
monitor itself: the same route answers on both).

    finfleet drift credit                 # = finfleet drift show credit
    finfleet drift show credit --since 2h --features 20
    finfleet drift show credit --json

`--url` (default http://127.0.0.1:8000, or GATEWAY_URL) and `--api-key` (or FINFLEET_API_KEY)
say which gateway and how to get in. Subcommands live in SUBCOMMANDS: `show` is the default,
so `drift NAME` needs no verb. `finfleet drift report NAME --since 7d` (the Evidently page,
read from the log itself, not the monitor) is kit.drift_report's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

LEVEL_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red"}
SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(scores: list[float]) -> str:
    """Dataset scores on the 0–1 scale as block characters (the newest last)."""
    return "".join(SPARKS[min(int(s * len(SPARKS)), len(SPARKS) - 1)] for s in scores)


def fetch(url: str, name: str, since: str | None, api_key: str | None) -> dict[str, Any]:
    query = f"?{urllib.parse.urlencode({'since': since})}" if since else ""
    path = f"{url.rstrip('/')}/v1/models/{urllib.parse.quote(name, safe='')}/drift{query}"
    headers = {"X-API-Key": api_key} if api_key else {}
    with urllib.request.urlopen(urllib.request.Request(path, headers=headers),
                                timeout=15) as response:
        return json.loads(response.read())


def render(report: dict[str, Any], console: Console, top: int = 15) -> None:
    thresholds = report["thresholds"]
    window = report["window"]
    console.print(f"[bold]{report['model']}[/bold] drift: window of the last "
                  f"{window['seconds']:g} s (at most {window['max_records']} records, scored "
                  f"from {window['min_records']}); warning ≥ {thresholds['warning']}, critical ≥ "
                  f"{thresholds['critical']}")
    if report.get("error"):
        console.print(f"[red]last run failed: {report['error']}[/red]")
    if not report["versions"]:
        console.print("no logged predictions in the window" if report["checked_at"]
                      else "the monitor has not run yet")
        return
    summary = Table("version", "served by", "records", "scored", "score", "level", "input",
                    "output", "history", title="versions in the window")
    for v in report["versions"]:
        served = ", ".join(f"{k} {n}" for k, n in sorted(v["served_by"].items()))
        level = v["level"] or v["reason"]
        summary.add_row(v["version"], served, str(v["records"]), str(v["scored"]),
                        _num(v["score"]), Text(level, LEVEL_STYLE.get(v["level"] or "", "dim")),
                        _num(v["input_score"]), _num(v["output_score"]),
                        sparkline([p["score"] for p in v["history"]][-30:]))
    console.print(summary)
    for v in report["versions"]:
        if not v["features"]:
            continue
        table = Table("feature", "kind", "score", "psi", "ks", "distance", "χ² p",
                      title=f"{v['version']}: features by score (top {top})")
        ranked = sorted(v["features"].values(), key=lambda f: -f["score"])[:top]
        for f in ranked:
            style = ("bold red" if f["score"] >= thresholds["critical"] else "yellow"
                     if f["score"] >= thresholds["warning"] else "")
            table.add_row(Text(f["name"], style), f["kind"], Text(_num(f["score"]), style),
                          _num(f["psi"]), _num(f["ks"]), _num(f["distance"]), _num(f["chi2_p"]))
        console.print(table)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def show(args: argparse.Namespace) -> int:
    try:
        report = fetch(args.url, args.name, args.since, args.api_key)
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read() or b"{}").get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        print(f"error {exc.code}: {detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {args.url} did not answer: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render(report, Console(), args.features)
    return 0


def add_show(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("show", parents=parents,
                            help="per version: the dataset score, level, history and the most "
                                 "drifted features (the default)")
    parser.add_argument("name", help="the model (credit, intent, ...)")
    parser.add_argument("--since", help="history from: a duration (15m, 2h, 7d) or unix seconds")
    parser.add_argument("--features", type=int, default=15, help="features shown per version")
    parser.add_argument("--json", action="store_true", help="print the JSON answer")
    parser.set_defaults(run=show)


# verb → adds its subparser (`sub.add_parser(verb, parents=parents)`, with `run` set to its
# function; `parents` carry --url and --api-key). `show` is the default verb.
SUBCOMMANDS: dict[str, Callable[[argparse._SubParsersAction, list[argparse.ArgumentParser]],
                                None]] = {"show": add_show}
DEFAULT = "show"


def connection_options(defaults: bool) -> argparse.ArgumentParser:
    """--url and --api-key, before the verb or after it (after it, no default: the one before
    it, or its default, stands)."""
    parser = argparse.ArgumentParser(add_help=False)
    url = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000") if defaults else argparse.SUPPRESS
    key = os.environ.get("FINFLEET_API_KEY") if defaults else argparse.SUPPRESS
    parser.add_argument("--url", default=url, help="the gateway (or the monitor) to ask")
    parser.add_argument("--api-key", default=key, help="an API key (or FINFLEET_API_KEY)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="finfleet drift", parents=[connection_options(True)],
                                     description="A model's drift, from the drift monitor.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS.values():
        add(sub, [connection_options(False)])
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")
                  and (i == 0 or argv[i - 1] not in ("--url", "--api-key"))), None)
    if first is not None and argv[first] == "report":  # the Evidently page: kit.drift_report
        from kit.drift_report import main as report

        return report(argv[first:])
    if first is not None and argv[first] not in SUBCOMMANDS:
        argv.insert(first, DEFAULT)  # `finfleet drift NAME` is `finfleet drift show NAME`
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
