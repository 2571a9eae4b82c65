"""Medians over repeats, the ratios we quote, and `bench/RESULTS.md` rendered from results."""

from __future__ import annotations

from statistics import median
from typing import Any

from bench.goals import PEERS, WORKERS_ROW, WORKERS_VARIANT, serving_goals
from bench.shadow import OUTCOMES as SHADOW_OUTCOMES

MEDIAN_FIELDS = ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "mean_ms")
ERROR_FIELDS = ("non_2xx", "socket_errors")
# Issue 19's goals for shadow at 100 %: the caller's p50 at one connection grows by at most
# this many ms, and req/s at 16 connections keeps at least this share.
SHADOW_P50_GOAL_MS = 0.2
SHADOW_RPS_GOAL = 0.85
# The prediction log's goals: logging every request (100 %) costs at most this share
# of credit's req/s and this many ms of its p50, at one connection.
LOG_RPS_GOAL = 0.90
LOG_P50_GOAL_MS = 0.1


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-field median of the runs (each field on its own); errors summed over all runs."""
    out: dict[str, Any] = {f: round(float(median(r[f] for r in runs)), 3) for f in MEDIAN_FIELDS}
    out.update({f: sum(r[f] for r in runs) for f in ERROR_FIELDS})
    out["runs"] = len(runs)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def usable(point: dict) -> bool:
    """A point whose every request answered 2xx in time: only those enter a ratio."""
    m = point.get("median")
    return bool(m) and m["requests_per_s"] > 0 and m["non_2xx"] == 0 and m["socket_errors"] == 0


def _index(points: list[dict], shadow: bool = False, variant: str = "") -> dict[tuple, dict]:
    return {(p["route"], p["cache"], p["connections"], p["instances"]): p for p in points
            if usable(p) and bool(p.get("shadow")) == shadow and p.get("variant", "") == variant
            and not p.get("log_off")}


def protocol_rows(points: list[dict]) -> list[dict[str, Any]]:
    """Credit direct: V2 infer beside V1 predict, and V1 on the base checkout (`--before`)
    where it ran, at the same connections and batch size."""
    v1, v2, before = (_index(points, variant=v) for v in ("", "v2", "before"))
    rows = []
    for key, point in sorted(v2.items(), key=lambda kv: kv[0][2:]):
        route, _, conns, batch = key
        ours, base = v1.get(key), before.get(key)
        if route != "credit" or ours is None:
            continue
        o, t = ours["median"], point["median"]
        b = base["median"] if base else {}
        rows.append({"connections": conns, "instances": batch,
                     "v1_rps": o["requests_per_s"], "v2_rps": t["requests_per_s"],
                     "v1_p50_ms": o["p50_ms"], "v2_p50_ms": t["p50_ms"],
                     "v2_over_v1": _ratio(t["requests_per_s"], o["requests_per_s"]),
                     "before_rps": b.get("requests_per_s"), "before_p50_ms": b.get("p50_ms"),
                     "v1_over_before": _ratio(o["requests_per_s"], b.get("requests_per_s"))})
    return rows


def peer_ratios(points: list[dict]) -> list[dict[str, Any]]:
    """Credit direct over MLServer at the same connections and batch size."""
    index = _index(points)
    rows = []
    for (route, _, conns, batch), peer in sorted(index.items(), key=lambda kv: kv[0][2:]):
        ours = index.get(("credit", "", conns, batch))
        if route != "mlserver" or ours is None:
            continue
        o, m = ours["median"], peer["median"]
        rows.append({"connections": conns, "instances": batch,
                     "ours_rps": o["requests_per_s"], "peer_rps": m["requests_per_s"],
                     "ours_p50_ms": o["p50_ms"], "peer_p50_ms": m["p50_ms"],
                     "ours_p99_ms": o["p99_ms"], "peer_p99_ms": m["p99_ms"],
                     "rps_ratio": _ratio(o["requests_per_s"], m["requests_per_s"]),
                     "p50_ratio": _ratio(o["p50_ms"], m["p50_ms"]),
                     "p99_ratio": _ratio(o["p99_ms"], m["p99_ms"])})
    return rows


PEER_ORDER = ("credit", WORKERS_ROW, *PEERS, "floor")


def cpu_use(point: dict) -> tuple[float | None, float | None]:
    """The cores the point's server (its whole process tree: MLServer's inference workers,
    Ray's cluster, credit's log writer) kept busy over its runs, and the rows it answered per
    CPU second: the servers do not use the same number of cores, so rows/s alone hides what a
    row costs. None where the runs carry no `cpu_s` or `wall_s`."""
    runs = [r for r in point.get("runs", [])
            if r.get("wall_s") and (r.get("cpu_s") or {}).get(point["target"], 0.0) > 0]
    if not runs:  # (a run whose tree lost a child mid-run can read 0 or less: left out)
        return None, None
    cpu = sum(r["cpu_s"][point["target"]] for r in runs)
    rows = sum(r["requests"] for r in runs) * point["instances"]
    return round(cpu / sum(r["wall_s"] for r in runs), 2), round(rows / cpu, 1)


def server_rows(points: list[dict]) -> list[dict[str, Any]]:
    """Credit direct beside every peer and the floor, at each connections × rows a request
    where credit has numbers: each server's req/s, rows/s, p50, p99, cores busy and rows per
    CPU second, credit ÷ it (req/s, p99, rows per CPU second) and it ÷ the floor (req/s).
    Credit as worker processes (`credit w2`) is a row of its own beside them."""
    index = _index(points)
    index |= {(WORKERS_ROW, *key[1:]): p
              for key, p in _index(points, variant=WORKERS_VARIANT).items() if key[0] == "credit"}
    rows = []
    for conns, batch in sorted({(c, b) for (r, cache, c, b) in index
                                if r == "credit" and not cache}):
        ours = index[("credit", "", conns, batch)]
        ours_per_cpu = cpu_use(ours)[1]
        floor = index.get(("floor", "", conns, batch))
        floor_rps = floor["median"]["requests_per_s"] if floor else None
        for server in PEER_ORDER:
            point = index.get((server, "", conns, batch))
            if point is None:
                continue
            m = point["median"]
            cores, per_cpu = cpu_use(point)
            rows.append({"connections": conns, "instances": batch, "server": server,
                         "rps": m["requests_per_s"],
                         "rows_per_s": round(m["requests_per_s"] * batch, 1),
                         "p50_ms": m["p50_ms"], "p99_ms": m["p99_ms"],
                         "cores": cores, "rows_per_cpu_s": per_cpu,
                         "credit_over_rps": _ratio(ours["median"]["requests_per_s"],
                                                   m["requests_per_s"]),
                         "credit_over_p99": _ratio(ours["median"]["p99_ms"], m["p99_ms"]),
                         "credit_over_per_cpu": _ratio(ours_per_cpu, per_cpu),
                         "over_floor_rps": _ratio(m["requests_per_s"], floor_rps)})
    return rows


def footprint_rows(servers: dict[str, dict]) -> list[list[Any]]:
    """One table row per server: version, serving environment, start-up, PSS idle / loaded."""
    return [[name, s.get("version") or "–", s.get("venv") or "–", _fmt(s.get("venv_mb")),
             _fmt(s.get("ready_s")), _fmt(s.get("pss_idle_mb")), _fmt(s.get("pss_after_mb"))]
            for name, s in servers.items() if s.get("pss_idle_mb") is not None]


def gateway_ratios(points: list[dict]) -> list[dict[str, Any]]:
    """Through the gateway (miss, hit) against the same service direct."""
    index = _index(points)
    keys = sorted({(r, c, b) for (r, cache, c, b) in index if cache})
    rows = []
    for route, conns, batch in keys:
        direct = index.get((route, "", conns, batch))
        miss = index.get((route, "miss", conns, batch))
        hit = index.get((route, "hit", conns, batch))
        row: dict[str, Any] = {"route": route, "connections": conns, "instances": batch}
        for name, point in (("direct", direct), ("miss", miss), ("hit", hit)):
            row[f"{name}_rps"] = point["median"]["requests_per_s"] if point else None
            row[f"{name}_p50_ms"] = point["median"]["p50_ms"] if point else None
        row["miss_over_direct"] = _ratio(row["miss_rps"], row["direct_rps"])
        row["hit_over_direct"] = _ratio(row["hit_rps"], row["direct_rps"])
        row["hit_over_miss"] = _ratio(row["hit_rps"], row["miss_rps"])
        rows.append(row)
    return rows


def cpu_per_request(point: dict) -> tuple[float | None, float | None]:
    """CPU ms per answered request over the point's runs: its target (the gateway) and the
    servers behind it together (None where the runs carry no `cpu_s`)."""
    runs = [r for r in point.get("runs", []) if r.get("cpu_s")]
    requests = sum(r["requests"] for r in runs)
    if not requests:
        return None, None
    target = sum(r["cpu_s"].get(point["target"], 0.0) for r in runs)
    behind = sum(v for r in runs for k, v in r["cpu_s"].items() if k != point["target"])
    return round(target / requests * 1000, 3), round(behind / requests * 1000, 3)


def shadow_rows(points: list[dict]) -> list[dict[str, Any]]:
    """Each shadow point beside its twin without shadow: req/s and p50 on both sides, the
    req/s ratio (with / without), the p50 added (ms), the shadow calls of its runs (summed),
    and the goal its connection count has (`verdict` PASS/FAIL, "" where none applies or a
    side has no usable numbers)."""
    plain = _index(points)
    rows = []
    for p in points:
        if not p.get("shadow") or not p.get("median"):
            continue
        key = (p["route"], p["cache"], p["connections"], p["instances"])
        without, with_ = plain.get(key), p if usable(p) else None
        row: dict[str, Any] = {"route": p["route"], "cache": p["cache"],
                               "connections": p["connections"], "instances": p["instances"]}
        for side, point in (("without", without), ("with", with_)):
            row[f"{side}_rps"] = point["median"]["requests_per_s"] if point else None
            row[f"{side}_p50_ms"] = point["median"]["p50_ms"] if point else None
        both = without is not None and with_ is not None
        row["rps_ratio"] = _ratio(row["with_rps"], row["without_rps"])
        row["added_p50_ms"] = (round(row["with_p50_ms"] - row["without_p50_ms"], 3)
                               if both else None)
        for side, point in (("without", without), ("with", with_)):
            gateway, services = cpu_per_request(point) if point else (None, None)
            row[f"{side}_gateway_cpu_ms"], row[f"{side}_service_cpu_ms"] = gateway, services
        for outcome in SHADOW_OUTCOMES:
            row[f"shadow_{outcome}"] = sum(r.get("shadow_calls", {}).get(outcome, 0)
                                           for r in p.get("runs", []))
        row["goal"], row["verdict"] = "", ""
        if p["connections"] == 1:
            row["goal"] = f"p50 +≤ {SHADOW_P50_GOAL_MS:g} ms"
            if both:
                row["verdict"] = "PASS" if row["added_p50_ms"] <= SHADOW_P50_GOAL_MS else "FAIL"
        elif p["connections"] == 16:
            row["goal"] = f"req/s ≥ {SHADOW_RPS_GOAL:g}×"
            if both:
                exact = row["with_rps"] / row["without_rps"]
                row["verdict"] = "PASS" if exact >= SHADOW_RPS_GOAL else "FAIL"
        rows.append(row)
    return rows


def log_rows(points: list[dict]) -> list[dict[str, Any]]:
    """Each log-off point beside its twin with the log on (every request logged): req/s and p50
    on both sides, on/off req/s, the p50 added, and at one connection the goal's verdict."""
    plain = _index(points)
    rows = []
    for p in points:
        if not p.get("log_off") or not p.get("median"):
            continue
        on, off = plain.get((p["route"], "", p["connections"], p["instances"])), (
            p if usable(p) else None)
        row: dict[str, Any] = {"route": p["route"], "connections": p["connections"],
                               "instances": p["instances"]}
        for side, point in (("off", off), ("on", on)):
            row[f"{side}_rps"] = point["median"]["requests_per_s"] if point else None
            row[f"{side}_p50_ms"] = point["median"]["p50_ms"] if point else None
            row[f"{side}_cpu_ms"] = cpu_per_request(point)[0] if point else None
        both = on is not None and off is not None
        row["rps_ratio"] = _ratio(row["on_rps"], row["off_rps"])
        row["added_p50_ms"] = round(row["on_p50_ms"] - row["off_p50_ms"], 3) if both else None
        row["goal"], row["verdict"] = "", ""
        if p["connections"] == 1:
            row["goal"] = f"req/s ≥ {LOG_RPS_GOAL:g}×, p50 +≤ {LOG_P50_GOAL_MS:g} ms"
            if both:
                passed = (row["on_rps"] / row["off_rps"] >= LOG_RPS_GOAL
                          and row["added_p50_ms"] <= LOG_P50_GOAL_MS)
                row["verdict"] = "PASS" if passed else "FAIL"
        rows.append(row)
    return rows


def answers_note(found: dict[str, dict]) -> str:
    """One sentence on the answers-equal check (bench/answers.py)."""
    if not found:
        return ""
    parts = [f"{route} {'≤' if v['equal'] else '**differs**,'} "
             f"{_fmt(v['max_abs_diff'], 8) if v['max_abs_diff'] is not None else v['reason']}"
             for route, v in found.items()]
    return (" Answers equal: each peer's probabilities for the fixed applicants "
            "(bench/answers.py), calibrated as "
            "the manifest says, against credit's `probability_of_default` (largest |Δ|; the "
            "bound is 1e-6): " + "; ".join(parts) + ".")


def _sum(a: float | None, b: float | None) -> float | None:
    return round(a + b, 3) if a is not None and b is not None else None


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table followed by a blank line."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) if not isinstance(v, str) else v for v in row) + " |"
              for row in rows]
    return [*lines, ""]


def render_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    mode = "quick" if results["quick"] else "full"
    out = [
        "# Bench results",
        "",
        f"`{results['command']}` ({mode}), {results['started_at']} → {results['finished_at']}. "
        f"Each point ran {results['repeats']}× for {results['seconds']:g} s with "
        f"`wrk -t1` (repeats interleaved across points); the tables show medians. "
        "Raw runs: `bench/results/" + results["results_file"] + "`.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, Linux "
        f"{m['kernel']}, Python {m['python']}, {m['wrk']}. Load average (1/5/15 min) "
        f"{m['load_average_start']} at start, {m.get('load_average_end', '?')} at the end: the "
        "cores are shared, so compare ratios within this run rather than absolute numbers.",
        "",
    ]
    peers = peer_ratios(results["points"])
    if peers:
        out += ["## Ours vs MLServer (same credit XGBoost model, same connections)", "",
                f"MLServer {results.get('peer_version', '')} with `mlserver-xgboost` serving the "
                "booster as `model.json` (V2 protocol, `predict` = P(default) per row, default "
                "settings). Ours: "
                "`python -m services.credit` (schema validation, calibration, band and reason "
                "codes per instance). Ratio = ours / MLServer: req/s above 1 is faster, "
                "latency below 1 is faster.", ""]
        out += _table(
            ["connections", "instances", "ours req/s", "MLServer req/s", "req/s ratio",
             "ours p50 ms", "MLServer p50 ms", "p50 ratio", "ours p99 ms", "MLServer p99 ms",
             "p99 ratio"],
            [[r["connections"], r["instances"], r["ours_rps"], r["peer_rps"],
              _fmt(r["rps_ratio"], 2), _fmt(r["ours_p50_ms"], 2), _fmt(r["peer_p50_ms"], 2),
              _fmt(r["p50_ratio"], 2), _fmt(r["ours_p99_ms"], 2), _fmt(r["peer_p99_ms"], 2),
              _fmt(r["p99_ratio"], 2)] for r in peers])
    servers = server_rows(results["points"])
    if any(r["server"] != "credit" for r in servers):
        out += ["## Credit beside every peer and the floor", "",
                "The same credit booster served by each (`bench/peers/`, docs/bench.md): MLServer "
                "(V2, `mlserver-xgboost`), BentoML (`@bentoml.service`, `@bentoml.api"
                "(batchable=True)`), Ray Serve with one replica at `max_ongoing_requests` 5 "
                "(`ray`, Serve's default) and 64 (`ray-m64`); the floor is a FastAPI POST route "
                "answering a constant on the services' own stack (kit.serve). All in the same "
                "interleaved rounds. credit ÷ this: above 1 credit serves more req/s, below 1 "
                "credit's p99 is shorter; this ÷ floor: the share of the trivial route's req/s. "
                "Cores: the CPU seconds of the server's whole process tree (MLServer's "
                "inference workers, Ray's cluster, credit's log writer) over the runs' wall "
                f"time, of the machine's {m['cores']} (wrk takes a share of them too; the wall "
                "time includes each run's drain and probes, so a server with a deep queue "
                "reads a little low); rows per CPU s: the rows wrk counted per second of that "
                "CPU, and credit ÷ this of it."
                + answers_note(results.get("answers") or {}), ""]
        out += _table(
            ["connections", "rows a request", "server", "req/s", "rows/s", "p50 ms", "p99 ms",
             "cores", "rows per CPU s", "credit ÷ this req/s", "credit ÷ this p99",
             "credit ÷ this rows per CPU s", "this ÷ floor req/s"],
            [[r["connections"], r["instances"], r["server"], r["rps"], r["rows_per_s"],
              _fmt(r["p50_ms"], 2), _fmt(r["p99_ms"], 2), _fmt(r["cores"], 2),
              _fmt(r["rows_per_cpu_s"], 0), _fmt(r["credit_over_rps"], 2),
              _fmt(r["credit_over_p99"], 2), _fmt(r["credit_over_per_cpu"], 2),
              _fmt(r["over_floor_rps"], 2)] for r in servers])
        goals = serving_goals(servers)
        if goals:
            out += ["Issue 23's serving goals in this run (bench/goals.py; intent's adaptive "
                    "batching has no off point in a run: docs/batching.md has its before and "
                    "after). A FAIL is reported, it does not fail the run.", ""]
            out += _table(["goal", "measured", "verdict"],
                          [[g["goal"], g["measured"], f"**{g['verdict']}**"] for g in goals])
    protocols = protocol_rows(results["points"])
    if protocols:
        out += ["## V1 and V2 on credit (direct)", "",
                "The same instances as V1 `:predict` and as a V2 `infer` request (JSON tensors, "
                "one per field: kit/v2.py decodes them into V1's instances for the same "
                "`predict_batch`). V1 before: the same route on the service of the checkout "
                "given with `--before` (the base commit), in the same rounds. Ratios: req/s.", ""]
        out += _table(
            ["connections", "instances", "V1 req/s", "V2 req/s", "V2/V1", "V1 p50 ms",
             "V2 p50 ms", "V1 before req/s", "V1 before p50 ms", "V1 now/before"],
            [[r["connections"], r["instances"], r["v1_rps"], r["v2_rps"],
              _fmt(r["v2_over_v1"], 2), _fmt(r["v1_p50_ms"], 2), _fmt(r["v2_p50_ms"], 2),
              r["before_rps"] if r["before_rps"] is not None else "–",
              _fmt(r["before_p50_ms"], 2), _fmt(r["v1_over_before"], 2)] for r in protocols])
    gateway = gateway_ratios(results["points"])
    if gateway:
        out += ["## Through the gateway", "",
                "Miss: every instance unique (a counter in the body), so each request goes "
                "upstream. Hit: the same body every time. Ratios are over the same route direct "
                "(a fan-out route has no direct point).", ""]
        out += _table(
            ["route", "connections", "instances", "direct req/s", "miss req/s", "hit req/s",
             "miss/direct", "hit/direct", "hit/miss", "direct p50 ms", "miss p50 ms",
             "hit p50 ms"],
            [[r["route"], r["connections"], r["instances"], r["direct_rps"], r["miss_rps"],
              r["hit_rps"], _fmt(r["miss_over_direct"], 2), _fmt(r["hit_over_direct"], 2),
              _fmt(r["hit_over_miss"], 2), _fmt(r["direct_p50_ms"], 2),
              _fmt(r["miss_p50_ms"], 2), _fmt(r["hit_p50_ms"], 2)] for r in gateway])
    shadows = shadow_rows(results["points"])
    if shadows:
        out += ["## Shadow at 100 %", "",
                "Credit through a second gateway with `GATEWAY_TRAFFIC="
                '{"credit": {"shadow_percent": 100}}`, in front of the same production credit '
                "service, and the candidate on a credit replica of its own "
                "(`CREDIT_MODEL_ALIAS=candidate` at nice 10, named in "
                "`GATEWAY_CANDIDATE_UPSTREAMS`; the same model published again under another "
                "version name, in a temporary model dir): each request is "
                "copied after production's answer into the bounded shadow queue and sent to "
                "`/v1/models/credit/versions/<candidate>:predict`; a cache hit whose pair was "
                "compared before is counted again, not sent (remembered). "
                "Without: the plain gateway and service. Each shadow point ran right after its "
                "twin in every round, and after each run the bench waited until the shadow queue "
                "was empty. Shadow calls: `finfleet_shadow_requests_total{outcome}` of the "
                "shadow gateway, over that point's runs (the bench's own one or two requests "
                "around each run included; dropped: the queue was full). Goals (issue 19): at "
                f"one connection the p50 grows by at most {SHADOW_P50_GOAL_MS:g} ms, at 16 "
                f"connections req/s stays at {SHADOW_RPS_GOAL:g}× or more; a FAIL is reported, "
                "it does not fail the run.", ""]
        out += _table(
            ["route", "cache", "connections", "instances", "without req/s", "with req/s",
             "with/without", "without p50 ms", "with p50 ms", "added p50 ms", "shadow sent",
             "remembered", "dropped", "failed", "goal", "verdict"],
            [[r["route"], r["cache"], r["connections"], r["instances"], r["without_rps"],
              r["with_rps"], _fmt(r["rps_ratio"], 2), _fmt(r["without_p50_ms"], 2),
              _fmt(r["with_p50_ms"], 2), _fmt(r["added_p50_ms"], 2), r["shadow_sent"],
              r["shadow_remembered"], r["shadow_dropped"], r["shadow_failed"], r["goal"] or "–",
              f"**{r['verdict']}**" if r["verdict"] else "–"] for r in shadows])
        if any(r["with_gateway_cpu_ms"] is not None for r in shadows):
            out += ["Where the time goes: CPU ms per request (`/proc` user + system time of each "
                    "process tree from the start of a run until the bench's request after it "
                    "was answered, and with shadow until the shadow queue was empty too; over "
                    "the requests wrk counted), of the gateway and of the credit service "
                    "behind it (with shadow: production's service and the candidate's replica "
                    "together). wrk and everything else on the machine share the "
                    "same cores.", ""]
            out += _table(
                ["cache", "connections", "gateway without", "gateway with", "service without",
                 "service with", "total without", "total with"],
                [[r["cache"], r["connections"], _fmt(r["without_gateway_cpu_ms"], 3),
                  _fmt(r["with_gateway_cpu_ms"], 3), _fmt(r["without_service_cpu_ms"], 3),
                  _fmt(r["with_service_cpu_ms"], 3),
                  _fmt(_sum(r["without_gateway_cpu_ms"], r["without_service_cpu_ms"]), 3),
                  _fmt(_sum(r["with_gateway_cpu_ms"], r["with_service_cpu_ms"]), 3)]
                 for r in shadows])
    logs = log_rows(results["points"])
    if logs:
        counts = results.get("predlog") or {}
        written = ", ".join(f"{v:,} {k}" for k, v in counts.items()) or "not read"
        out += ["## The prediction log at 100 %", "",
                "Credit direct with its prediction log on (the default: every request sampled, "
                "queued, and written in the background to the embedded SQLite files) beside a "
                "second credit service on the same model with `CREDIT_LOG_SAMPLE_RATE=0`. Each "
                "log-off point ran right after its log-on twin in every round. Records of the "
                f"log-on service at the end (`finfleet_predlog_records_total`): {written}. "
                f"Goals: at one connection req/s stays at {LOG_RPS_GOAL:g}× or more "
                f"and the p50 grows by at most {LOG_P50_GOAL_MS:g} ms; a FAIL is reported, it "
                "does not fail the run. CPU ms/req: the service's own CPU time (its process tree: "
                "the log writer process included) over the requests wrk counted, steadier than "
                "wall time on shared cores.", ""]
        out += _table(
            ["route", "connections", "instances", "log off req/s", "log on req/s", "on/off",
             "log off p50 ms", "log on p50 ms", "added p50 ms", "log off CPU ms/req",
             "log on CPU ms/req", "goal", "verdict"],
            [[r["route"], r["connections"], r["instances"], r["off_rps"], r["on_rps"],
              _fmt(r["rps_ratio"], 2), _fmt(r["off_p50_ms"], 3), _fmt(r["on_p50_ms"], 3),
              _fmt(r["added_p50_ms"], 3), _fmt(r["off_cpu_ms"], 3), _fmt(r["on_cpu_ms"], 3),
              r["goal"] or "–",
              f"**{r['verdict']}**" if r["verdict"] else "–"] for r in logs])
    measured = [p for p in results["points"] if p.get("median")]
    out += ["## Every point", ""]
    out += _table(
        ["point", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-2xx", "socket errors", "runs"],
        [[p["key"], p["median"]["requests_per_s"], _fmt(p["median"]["p50_ms"], 2),
          _fmt(p["median"]["p90_ms"], 2), _fmt(p["median"]["p99_ms"], 2),
          p["median"]["non_2xx"], p["median"]["socket_errors"], p["median"]["runs"]]
         for p in measured])
    broken = [p for p in measured if not usable(p)]
    if broken:
        out += ["Left out of the ratios (errors, or no request finished within the run; through "
                "the gateway, 504/503 mean the upstream outlasted `GATEWAY_READ_TIMEOUT` or its "
                "circuit breaker opened and shed the load):", ""]
        out += [f"- {p['key']}: {p['median']['non_2xx']:,} non-2xx, "
                f"{p['median']['socket_errors']:,} socket errors, "
                f"{p['median']['requests_per_s']:,.1f} req/s" for p in broken] + [""]
    servers_info = results.get("servers", {})
    if servers_info:
        out += ["## Resident memory (MB, the process and its children)", ""]
        out += _table(["server", "version", "idle", "after load"],
                      [[name, s.get("version") or "–", s.get("rss_idle_mb"),
                        s.get("rss_after_mb")] for name, s in servers_info.items()])
    footprint = footprint_rows(servers_info)
    if footprint:
        out += ["## Footprint", "",
                "Serving environment: the venv the server ran from and its size on disk (a "
                "peer's own; for finfleet's servers their image's, `requirements/images/"
                "<image>.txt` alone in a fresh venv, bench/model_venv.py). Start-up: from the "
                "process start until it answered ready (Ray: the cluster and both Serve apps "
                "deployed). PSS: /proc/<pid>/smaps_rollup summed over the process tree (shared "
                "pages split between the processes sharing them), idle before the first run "
                "and after the last.", ""]
        out += _table(["server", "version", "environment", "MB", "start-up s", "PSS idle MB",
                       "PSS after load MB"], footprint)
    if results.get("skipped"):
        out += ["## Skipped", ""]
        out += [f"- **{s['what']}**: {s['reason']}" for s in results["skipped"]] + [""]
    return "\n".join(out)
