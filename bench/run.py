"""`python -m bench.run [--quick]`: start the fleet and the MLServer peer on 127.0.0.1, drive every
bench point with wrk, keep the median of the repeats, write `bench/results/<timestamp>.json` and
rewrite `bench/RESULTS.md` (a quick run prints its tables instead, unless --markdown is given).

    python -m bench.run                 # full: 1/16/64 connections, 1 and 32 instances (≤ 15 min)
    python -m bench.run --quick         # 16 connections, a few points (≤ 2 min)
    python -m bench.run --only credit   # only the points whose name contains "credit"
    python -m bench.run --only shadow   # credit with shadow at 100 %, beside the same without
    python -m bench.run --only "credit c,credit v2,credit before" --before ../base
                                        # credit direct: V1, V2, and V1 on the base checkout
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import signal
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench import answers, peer_venv, report, shadow
from bench.fleet import Fleet
from bench.machine import load_average, machine_info
from bench.points import (
    FLOOR,
    LOG_MODEL,
    PEER_ROUTES,
    SERVICES,
    VARY,
    WORKERS_SERVICE,
    Point,
    body_for,
    peer_body,
    plan,
    select,
)
from bench.wrk import WrkError, run_wrk, wrk_binary
from kit.procs import post_json
from kit.settings import REPO_ROOT

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / "work"
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
# The full plan (101 points × 3 repeats × 2 s, each run ~2.0–2.5 s with its drain, and ~1 min
# of start-ups) needs ~12 min: its bound is 15 (docs/bench.md, "What a full run costs").
FULL_BUDGET_S = 900.0
VARY_BASE = 100_000_000  # keeps every varied number the same width: distinct floats, no rounding


def credit_encoder(model_dir: Path, version: str):
    """Raw credit instances → the float matrix the booster takes (the service's own encoding)."""
    from services.credit.model import feature_spec

    manifest = json.loads((model_dir / "credit" / version / "manifest.json").read_text())
    spec = feature_spec(manifest)
    return lambda instances: spec.encode(instances).tolist()


def probe(url: str, body: str, point: Point) -> str | None:
    """One request before the load: None when it answers as it should, else why not."""
    status, answer = post_json(url, body.replace(VARY, "0").encode())
    if status != 200:
        return f"a probe request answered {status}: {answer[:300].decode(errors='replace')}"
    parsed = orjson.loads(answer)
    if point.route in PEER_ROUTES and point.route != FLOOR:
        try:
            values = answers.probabilities(PEER_ROUTES[point.route][2], parsed)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return f"{point.route} answered {answer[:120]!r}: {exc}"
        if len(values) != point.instances or not all(0 <= v <= 1 for v in values):
            return f"{point.route} answered {values[:4]}…, not one probability per row"
    elif point.cache and point.route not in SERVICES and parsed.get("partial"):
        failed = {k: v.get("error", {}).get("detail") for k, v in parsed.items()
                  if isinstance(v, dict) and v.get("status") != 200}
        return f"the fan-out answered partially: {failed}"
    return None


def drain(url: str, body_path: Path) -> None:
    """One request, answered: after a run it waits out the backlog wrk leaves behind (requests
    still queued keep the server, and through the gateway its upstream, busy and would slow the
    next point); before a cache-hit run it puts the body's answers in the cache."""
    with contextlib.suppress(OSError):
        post_json(url, body_path.read_text().replace(VARY, "0").encode(), timeout_s=120)


def runnable_points(points: list[Point], fleet: Fleet) -> list[tuple[Point, str, Path]]:
    """Points whose servers are up and whose probe succeeds, with their URL and body file."""
    encode = None
    if "credit" in fleet.versions and any(server in fleet.servers for route, (server, _, _)
                                          in PEER_ROUTES.items() if route != FLOOR):
        encode = credit_encoder(fleet.model_dir, fleet.versions["credit"])
    bodies = WORK / "bodies"
    bodies.mkdir(parents=True, exist_ok=True)
    ready = []
    not_running: dict[str, list[str]] = {}
    for i, point in enumerate(points):
        missing = [n for n in dict.fromkeys((point.target, *point.needs))
                   if n not in fleet.servers]
        if missing:
            not_running.setdefault(", ".join(missing), []).append(point.key)
            continue
        body = body_for(point, encode)
        url = fleet.servers[point.target].url + point.path
        problem = probe(url, body, point)
        if problem:
            fleet.skip(point.key, problem)
            continue
        path = bodies / f"{i:03d}.json"
        path.write_text(body)
        ready.append((point, url, path))
    for missing, keys in not_running.items():
        fleet.skip(f"{len(keys)} point{'s' if len(keys) > 1 else ''}",
                   f"{missing} not running: {', '.join(keys)}")
    return ready


def check_answers(ready: list[tuple[Point, str, Path]], fleet: Fleet
                  ) -> tuple[list[tuple[Point, str, Path]], dict[str, dict]]:
    """Answers equal (bench/answers.py): each peer's probabilities for the fixed applicants
    against the credit service's; a peer that differs has its points dropped, with the reason."""
    urls = {p.route: url for p, url, _ in ready if p.route in PEER_ROUTES and p.route != FLOOR}
    if not urls or "credit" not in fleet.servers:
        return ready, {}
    version = fleet.versions["credit"]
    manifest = json.loads((fleet.model_dir / "credit" / version / "manifest.json").read_text())
    encode = credit_encoder(fleet.model_dir, version)
    try:
        found = answers.check(fleet.servers["credit"].url + "/v1/models/credit:predict",
                              {r: (url, PEER_ROUTES[r][2]) for r, url in urls.items()},
                              lambda kind, rows: peer_body(kind, encode(rows)),
                              manifest["calibration"])
    except (OSError, RuntimeError) as exc:
        fleet.skip("answers-equal check", f"the credit service did not answer: {exc}")
        return ready, {}
    for route, verdict in found.items():
        print(f"bench: {route} answers {'equal' if verdict['equal'] else 'DIFFER'} "
              f"(max |Δp| {verdict['max_abs_diff']})", flush=True)
        if not verdict["equal"]:
            fleet.skip(f"{route} points", f"its answers for {answers.APPLICANTS} fixed "
                       f"applicants are not credit's within {answers.TOLERANCE:g} (a broken "
                       f"harness, not a benchmark): {verdict['reason']}")
    broken = {route for route, verdict in found.items() if not verdict["equal"]}
    return [item for item in ready if item[0].route not in broken], found


def measure(ready: list[tuple[Point, str, Path]], seconds: float, repeats: int,
            fleet: Fleet, deadline: float = float("inf")) -> dict[str, list[dict]]:
    """Repeat rounds over all points (interleaved, so a noisy minute hits every point alike).
    Past `deadline` (monotonic) no run starts: the points keep the repeats they have."""
    runs: dict[str, list[dict]] = {point.key: [] for point, _, _ in ready}
    failed: set[str] = set()
    total, n = len(ready) * repeats, 0
    for repeat in range(repeats):
        for point, url, body in ready:
            n += 1
            if point.key in failed:
                continue
            if time.monotonic() + seconds > deadline:
                fleet.skip(f"{total - n + 1} of {total} runs",
                           "the time budget (--budget-s) was spent; points keep the repeats "
                           "they had (see the runs column)")
                return {key: value for key, value in runs.items() if key not in failed}
            vary = VARY_BASE + n * 1_000_000 if point.cache == "miss" else None
            if point.cache == "hit":
                drain(url, body)  # (re)fills the cache: entries may have outlived their TTL
            began = time.monotonic()
            try:
                before = shadow_counts(point, fleet)
                cpu_before = cpu_seconds(point, fleet)
                result = run_wrk(url, body, connections=point.connections, seconds=seconds,
                                 vary_start=vary)
            except (WrkError, OSError) as exc:
                failed.add(point.key)
                fleet.skip(point.key, f"wrk failed on repeat {repeat + 1}: {exc}")
                continue
            row = result.to_dict()
            drain(url, body)
            calls = ""
            if before is not None:  # waits out the candidate's backlog, counts this run's copies
                try:
                    row["shadow_calls"] = shadow.delta(before, shadow_settle(fleet))
                except OSError as exc:
                    fleet.skip(f"{point.key} shadow calls", f"/metrics unreadable: {exc}")
                else:
                    calls = ", shadow " + ", ".join(f"{v:,} {k}" for k, v in
                                                    row["shadow_calls"].items())
            row["cpu_s"] = {name: round(seconds_now - cpu_before[name], 3)
                            for name, seconds_now in cpu_seconds(point, fleet).items()}
            row["wall_s"] = round(time.monotonic() - began, 3)  # the run, its drain, its probes
            runs[point.key].append(row)
            print(f"[{n}/{total}] {point.key}: {result.requests_per_s:,.0f} req/s, "
                  f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
                  + (f", {result.non_2xx} non-2xx" if result.non_2xx else "") + calls,
                  flush=True)
    return {key: value for key, value in runs.items() if key not in failed}


def cpu_seconds(point: Point, fleet: Fleet) -> dict[str, float]:
    """CPU seconds used so far by the servers a point drives (its target and the services
    behind it; for a shadow point the shadow gateway, production's credit service and the
    candidate's replica): the difference over a run says which process the time went to."""
    names = [point.target, *point.needs]
    if point.shadow:
        names = [shadow.SHADOW_GATEWAY, shadow.MODEL, shadow.SHADOW_SERVICE]
    return {n: fleet.servers[n].cpu_s() for n in dict.fromkeys(names) if n in fleet.servers}


def shadow_counts(point: Point, fleet: Fleet) -> dict[str, int] | None:
    """The shadow gateway's counters before a shadow point's run (None for any other point)."""
    if not point.shadow:
        return None
    return shadow.counts(fleet.servers[shadow.SHADOW_GATEWAY].url)


def shadow_settle(fleet: Fleet) -> dict[str, int]:
    return shadow.settle(fleet.servers[shadow.SHADOW_GATEWAY].url)


def run(args: argparse.Namespace) -> dict:
    started = datetime.now(UTC)
    deadline = time.monotonic() + args.budget_s - 15  # leaves time to stop and write
    points = plan(args.quick, before=args.before is not None)
    if args.only:
        points = select(points, args.only)
    machine = machine_info()
    fleet = Fleet(WORK, args.model_dir, own_envs=not args.project_venv)
    try:
        wanted = ({n for p in points for n in p.needs} | {p.target for p in points}) & set(SERVICES)
        fleet.start_services([n for n in SERVICES if n in wanted], train=not args.no_train)
        if any(p.target == "gateway" for p in points):
            fleet.start_gateway()
        if any(p.shadow for p in points):
            fleet.start_shadow()
        if args.before is not None:
            fleet.start_before(args.before, {p.route for p in points if p.variant == "before"})
        if any(p.log_off for p in points):
            fleet.start_nolog(LOG_MODEL)
        if any(p.target == WORKERS_SERVICE for p in points):
            fleet.start_workers(LOG_MODEL)
        targets = {p.target for p in points}
        if not args.no_peer:
            for name, start in (("mlserver", fleet.start_mlserver),
                                ("bentoml", fleet.start_bentoml), ("ray", fleet.start_ray)):
                if name in targets:
                    start()
        if FLOOR in targets:
            fleet.start_floor()
        ready, equal = check_answers(runnable_points(points, fleet), fleet)
        idle, pss_idle = fleet.rss_mb(), fleet.pss_mb()
        estimate = len(ready) * args.repeats * (args.seconds + 0.5)
        print(f"bench: {len(ready)} points × {args.repeats} repeats × {args.seconds:g}s "
              f"(about {estimate / 60:.1f} min)", flush=True)
        runs = measure(ready, args.seconds, args.repeats, fleet, deadline + fleet.setup_s)
        after, pss_after = fleet.rss_mb(), fleet.pss_mb()
        logged = predlog_counts(fleet, LOG_MODEL) if any(p.log_off for p, _, _ in ready) else {}
    finally:
        fleet.stop()
    machine["load_average_end"] = load_average()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    return {
        "command": "python -m bench.run " + shlex.join(args.argv),
        "quick": args.quick, "seconds": args.seconds, "repeats": args.repeats,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results_file": f"{stamp}.json",
        "machine": machine,
        "peer_version": fleet.versions.get("mlserver", ""),
        "servers": {name: {"version": fleet.versions.get(name), "rss_idle_mb": idle.get(name),
                           "rss_after_mb": after.get(name), "pss_idle_mb": pss_idle.get(name),
                           "pss_after_mb": pss_after.get(name),
                           "ready_s": fleet.ready_s.get(name),
                           "venv": venv_of(fleet, name).name, "venv_mb": venv_mb(fleet, name)}
                    for name in idle},
        "answers": equal,
        "points": [{"key": p.key, "target": p.target, "route": p.route, "path": p.path,
                    "connections": p.connections, "instances": p.instances, "cache": p.cache,
                    "shadow": p.shadow, "variant": p.variant, "log_off": p.log_off,
                    "runs": runs[p.key],
                    "median": report.summarize(runs[p.key])}
                   for p, _, _ in ready if runs.get(p.key)],
        "skipped": fleet.skipped,
        "predlog": logged,
    }


def venv_of(fleet: Fleet, server: str) -> Path:
    """The venv `server` ran from: its image's (bench/model_venv.py), a peer's own, or else
    the project's (every extra in one venv)."""
    peer = peer_venv.venv_path(server)
    return fleet.envs.get(server) or (peer if peer.is_dir() else REPO_ROOT / ".venv")


def venv_mb(fleet: Fleet, server: str) -> float | None:
    """The serving environment's size on disk."""
    return peer_venv.size_mb(venv_of(fleet, server))


def predlog_counts(fleet: Fleet, name: str) -> dict[str, int]:
    """`finfleet_predlog_records_total` by outcome of the service whose log was on, after
    its writer drained (so the report says whether every record was written or some dropped)."""
    server = fleet.servers.get(name)
    if server is None:
        return {}
    time.sleep(1.0)  # one flush interval and then some
    pattern = re.compile(r'^finfleet_predlog_records_total\{[^}]*outcome="(\w+)"[^}]*\} (\S+)$')
    try:
        with urllib.request.urlopen(server.url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    return {m.group(1): int(float(m.group(2))) for line in text.splitlines()
            if (m := pattern.match(line))}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few points at 16 connections")
    parser.add_argument("--seconds", type=int, default=None,
                        help="wrk duration per run (default 2; whole seconds: wrk takes no "
                             "fractions)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per point (median kept)")
    parser.add_argument("--only", help="only points whose name contains this text (or one "
                                       "of several, comma-separated)")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="stop starting runs after this many seconds (900 full, 120 quick; "
                             "model training and the MLServer install not counted)")
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--no-train", action="store_true", help="skip services with no model")
    parser.add_argument("--no-peer", action="store_true",
                        help="do not start the peers (MLServer, BentoML, Ray Serve)")
    parser.add_argument("--project-venv", action="store_true",
                        help="serve finfleet's servers from the project venv instead of each "
                             "image's own (bench/model_venv.py builds those on first use)")
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout (a git worktree of the base commit): its credit "
                             "service's V1 is measured beside this one's, interleaved")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="where to write the Markdown report (full run: bench/RESULTS.md)")
    args = parser.parse_args(argv)
    args.argv = argv
    args.seconds = args.seconds or 2
    args.budget_s = args.budget_s or (120.0 if args.quick else FULL_BUDGET_S)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.markdown is None and not args.quick and not args.only:
        args.markdown = RESULTS_MD
    return args


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through run(), which stops the fleet


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        wrk_binary()
    except WrkError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    began = time.monotonic()
    results = run(args)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / results["results_file"]).write_text(json.dumps(results, indent=1))
    markdown = report.render_markdown(results)
    if args.markdown:
        args.markdown.write_text(markdown + "\n")
        print(f"bench: wrote {args.markdown}")
    else:
        print(markdown)
    for row in report.shadow_rows(results["points"]):
        if row["verdict"]:
            print(f"bench: shadow goal at c{row['connections']} ({row['cache']}): "
                  f"{row['goal']}: {row['verdict']}")
    print(f"bench: wrote bench/results/{results['results_file']} in "
          f"{time.monotonic() - began:.0f}s")
    return 0 if results["points"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
