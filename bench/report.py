"""Medians over repeats, the ratios we quote, and `bench/RESULTS.md` rendered from results."""

from __future__ import annotations

from statistics import median
from typing import Any

MEDIAN_FIELDS = ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "mean_ms")
ERROR_FIELDS = ("non_2xx", "socket_errors")


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


def _index(points: list[dict]) -> dict[tuple, dict]:
    return {(p["route"], p["cache"], p["connections"], p["instances"]): p for p in points
            if usable(p)}


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
    servers = results.get("servers", {})
    if servers:
        out += ["## Resident memory (MB, the process and its children)", ""]
        out += _table(["server", "version", "idle", "after load"],
                      [[name, s.get("version") or "–", s.get("rss_idle_mb"),
                        s.get("rss_after_mb")] for name, s in servers.items()])
    if results.get("skipped"):
        out += ["## Skipped", ""]
        out += [f"- **{s['what']}**: {s['reason']}" for s in results["skipped"]] + [""]
    return "\n".join(out)
