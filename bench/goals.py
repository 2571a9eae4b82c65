"""Issue 23's serving goals read off one run's server rows (bench/report.py `server_rows`), each
with its verdict, so RESULTS.md says in one table which hold on this machine today. A FAIL is
reported, it does not fail the run: the numbers move with the shared cores' load."""

from __future__ import annotations

from typing import Any

TAIL_RATIO_GOAL = 4.0  # credit's p99 ÷ p50 at 64 connections, one row a request
TAIL_PEER_SHARE = 0.5  # credit's p99 at most this share of every peer's there
ROWS_GOAL = 3.0  # credit's rows/s ÷ MLServer's at 16 connections × 32 rows
FLOOR_GOAL = 0.5  # credit's req/s ÷ the floor's at 16 connections, one row
PEERS = ("mlserver", "bentoml", "ray", "ray-m64")  # serving the same booster (bench/peers/)
WORKERS = 2  # credit's worker processes in its `w2` points: MLServer's own HTTP + one worker
WORKERS_VARIANT = f"w{WORKERS}"
WORKERS_ROW = f"credit {WORKERS_VARIANT}"


def serving_goals(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row a goal whose points are in the run: goal, what was measured, verdict. Verdicts
    are judged on the medians themselves, not on the rounded ratios the tables show."""
    at = {(r["connections"], r["instances"], r["server"]): r for r in rows}
    out = []
    credit, tail_floor = at.get((64, 1, "credit")), at.get((64, 1, "floor"))
    if credit and credit["p50_ms"]:
        ratio = credit["p99_ms"] / credit["p50_ms"]
        own = (f"; the floor's own {tail_floor['p99_ms'] / tail_floor['p50_ms']:.2f}"
               if tail_floor and tail_floor["p50_ms"] else "")
        out.append(_goal(f"tail: c64 × 1 p99 ÷ p50 ≤ {TAIL_RATIO_GOAL:g}",
                         f"{credit['p99_ms']:.1f} ÷ {credit['p50_ms']:.1f} ms = {ratio:.2f}{own}",
                         ratio <= TAIL_RATIO_GOAL))
    peers = [at[(64, 1, p)] for p in PEERS if (64, 1, p) in at and at[(64, 1, p)]["p99_ms"]]
    if credit and peers:
        missing = [p for p in PEERS if (64, 1, p) not in at]
        shares = ", ".join(f"{p['server']} {credit['p99_ms'] / p['p99_ms']:.2f}" for p in peers)
        out.append(_goal(f"tail: c64 × 1 p99 ≤ {TAIL_PEER_SHARE:g}× every peer's",
                         f"credit ÷ peer p99: {shares}"
                         + (f" ({', '.join(missing)} not in this run)" if missing else ""),
                         all(credit["p99_ms"] <= TAIL_PEER_SHARE * p["p99_ms"] for p in peers)))
    rows_credit, mlserver = at.get((16, 32, "credit")), at.get((16, 32, "mlserver"))
    if rows_credit and mlserver and mlserver["rps"]:
        ratio = rows_credit["rps"] / mlserver["rps"]
        per_cpu = (f"; per CPU second {mlserver['credit_over_per_cpu']:.2f}×"
                   if mlserver["credit_over_per_cpu"] is not None else "")
        out.append(_goal(f"rows: c16 × 32 rows/s ≥ {ROWS_GOAL:g}× MLServer's",
                         f"{ratio:.2f}× ({rows_credit['rows_per_s']:,.0f} against "
                         f"{mlserver['rows_per_s']:,.0f} rows/s){per_cpu}", ratio >= ROWS_GOAL))
    workers = at.get((16, 32, WORKERS_ROW))
    if workers and mlserver and mlserver["rps"]:
        ratio = workers["rps"] / mlserver["rps"]
        cores = (f"; cores {workers['cores']:.2f} against {mlserver['cores']:.2f}"
                 if workers["cores"] is not None and mlserver["cores"] is not None else "")
        out.append(_goal(f"rows, {WORKERS} processes each: c16 × 32 rows/s ≥ {ROWS_GOAL:g}× "
                         "MLServer's", f"{ratio:.2f}× ({workers['rows_per_s']:,.0f} rows/s, "
                         f"{WORKERS_ROW}){cores}", ratio >= ROWS_GOAL))
    single, floor = at.get((16, 1, "credit")), at.get((16, 1, "floor"))
    if single and floor and floor["rps"]:
        ratio = single["rps"] / floor["rps"]
        out.append(_goal(f"floor: c16 × 1 req/s ≥ {FLOOR_GOAL:g}× the floor's", f"{ratio:.2f}×",
                         ratio >= FLOOR_GOAL))
    return out


def _goal(goal: str, measured: str, met: bool) -> dict[str, str]:
    return {"goal": goal, "measured": measured, "verdict": "PASS" if met else "FAIL"}
