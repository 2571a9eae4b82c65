from bench.report import (
    gateway_ratios,
    log_rows,
    peer_ratios,
    protocol_rows,
    render_markdown,
    shadow_rows,
    summarize,
)


def run(rps, p50, p99, non_2xx=0):
    return {"requests_per_s": rps, "p50_ms": p50, "p90_ms": p50 * 1.5, "p99_ms": p99,
            "mean_ms": p50, "non_2xx": non_2xx, "socket_errors": 0}


def point(route, cache, conns, batch, runs, target=None):
    via = f" via gateway ({cache})" if cache else ""
    return {"key": f"{route}{via} c{conns} b{batch}", "target": target or route, "route": route,
            "path": "/x", "connections": conns, "instances": batch, "cache": cache,
            "runs": runs, "median": summarize(runs)}


def test_summarize_takes_each_fields_median_and_sums_errors():
    summary = summarize([run(100, 5, 50), run(300, 1, 10, non_2xx=2), run(200, 9, 30)])
    assert summary["requests_per_s"] == 200
    assert summary["p50_ms"] == 5
    assert summary["p99_ms"] == 30
    assert summary["non_2xx"] == 2
    assert summary["runs"] == 3


POINTS = [
    point("credit", "", 16, 1, [run(2000, 8, 20)]),
    point("mlserver", "", 16, 1, [run(250, 60, 100)]),
    point("mlserver", "", 64, 1, [run(260, 240, 400)]),  # no matching credit point: no ratio
    point("credit", "miss", 16, 1, [run(1000, 16, 40)], target="gateway"),
    point("credit", "hit", 16, 1, [run(4000, 4, 10)], target="gateway"),
    point("analyze/message", "hit", 16, 1, [run(3000, 5, 12)], target="gateway"),
]


def test_peer_ratios_are_ours_over_mlserver_at_the_same_point():
    rows = peer_ratios(POINTS)
    assert len(rows) == 1
    row = rows[0]
    assert (row["connections"], row["instances"]) == (16, 1)
    assert row["rps_ratio"] == 8.0
    assert row["p50_ratio"] == 0.13
    assert row["p99_ratio"] == 0.2


def test_gateway_ratios_compare_miss_and_hit_with_direct():
    rows = {r["route"]: r for r in gateway_ratios(POINTS)}
    credit = rows["credit"]
    assert credit["miss_over_direct"] == 0.5
    assert credit["hit_over_direct"] == 2.0
    assert credit["hit_over_miss"] == 4.0
    fanout = rows["analyze/message"]
    assert fanout["direct_rps"] is None and fanout["hit_over_direct"] is None


def results(points, skipped=()):
    return {"command": "python -m bench.run --quick", "quick": True, "seconds": 2.0,
            "repeats": 1, "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:01:00+00:00", "results_file": "20260101-000000.json",
            "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0, "kernel": "6.1",
                        "python": "3.11", "wrk": "wrk 4.1.0", "load_average_start": [1, 1, 1],
                        "load_average_end": [2, 2, 2]},
            "peer_version": "1.7.1",
            "servers": {"credit": {"version": "v1", "rss_idle_mb": 100.0, "rss_after_mb": 110.5}},
            "points": points, "skipped": list(skipped)}


def test_markdown_has_machine_ratio_tables_memory_and_skips():
    text = render_markdown(results(POINTS, [{"what": "spending", "reason": "no module yet"}]))
    assert "Test CPU, 2 cores" in text
    assert "| 16 | 1 | 2,000.0 | 250.0 | 8.00 | 8.00 | 60.00 | 0.13 |" in text
    assert "| credit | 16 | 1 | 2,000.0 | 1,000.0 | 4,000.0 | 0.50 | 2.00 | 4.00 |" in text
    assert "| credit via gateway (hit) c16 b1 | 4,000.0 | 4.00 | 6.00 | 10.00 | 0 | 0 | 1 |" in text
    assert "| credit | v1 | 100.0 | 110.5 |" in text
    assert "- **spending**: no module yet" in text
    assert "bench/results/20260101-000000.json" in text


def test_markdown_without_peer_or_gateway_leaves_those_sections_out():
    text = render_markdown(results([POINTS[0]]))
    assert "MLServer" not in text and "Through the gateway" not in text
    assert "| credit c16 b1 | 2,000.0 |" in text


def test_points_with_errors_or_no_answers_stay_out_of_the_ratios():
    failing = [point("credit", "", 16, 1, [run(2000, 8, 20, non_2xx=3)]),
               point("mlserver", "", 16, 1, [run(250, 60, 100)]),
               point("mlserver", "", 64, 32, [run(0, 0, 0)])]
    assert peer_ratios(failing) == []
    text = render_markdown(results(failing))
    assert "- credit c16 b1: 3 non-2xx, 0 socket errors, 2,000.0 req/s" in text
    assert "- mlserver c64 b32: 0 non-2xx, 0 socket errors, 0.0 req/s" in text


def shadow_point(cache, conns, runs, calls):
    runs = [{**r, "shadow_calls": c} for r, c in zip(runs, calls, strict=True)]
    p = point("credit", cache, conns, 1, runs, target="gateway-shadow")
    p["key"] = p["key"].replace("via gateway", "via gateway+shadow")
    p["shadow"] = True
    return p


SHADOW_POINTS = [
    point("credit", "miss", 1, 1, [run(800, 1.20, 3)], target="gateway"),
    shadow_point("miss", 1, [run(700, 1.35, 4)], [{"sent": 1400, "dropped": 0, "failed": 0}]),
    point("credit", "hit", 1, 1, [run(2000, 0.40, 1)], target="gateway"),
    shadow_point("hit", 1, [run(1500, 0.65, 2)], [{"sent": 3000, "dropped": 0, "failed": 1}]),
    point("credit", "miss", 16, 1, [run(1000, 16, 40)], target="gateway"),
    shadow_point("miss", 16, [run(850, 18, 50), run(870, 18, 50)],
                 [{"sent": 1700, "dropped": 10, "failed": 0},
                  {"sent": 1740, "dropped": 5, "failed": 0}]),
    point("credit", "hit", 16, 1, [run(4000, 4, 10)], target="gateway"),
    shadow_point("hit", 16, [run(2000, 8, 20)], [{"sent": 2500, "dropped": 1500, "failed": 0}]),
]


def test_shadow_rows_pair_each_shadow_point_with_its_twin_and_judge_the_goals():
    rows = {(r["connections"], r["cache"]): r for r in shadow_rows(SHADOW_POINTS)}
    assert list(rows) == [(1, "miss"), (1, "hit"), (16, "miss"), (16, "hit")]
    miss1 = rows[(1, "miss")]
    assert (miss1["without_p50_ms"], miss1["with_p50_ms"], miss1["added_p50_ms"]) == (
        1.2, 1.35, 0.15)
    assert miss1["verdict"] == "PASS" and "0.2 ms" in miss1["goal"]
    assert rows[(1, "hit")]["added_p50_ms"] == 0.25 and rows[(1, "hit")]["verdict"] == "FAIL"
    assert rows[(1, "hit")]["shadow_failed"] == 1
    miss16 = rows[(16, "miss")]
    assert miss16["rps_ratio"] == 0.86 and miss16["verdict"] == "PASS"
    assert (miss16["shadow_sent"], miss16["shadow_dropped"]) == (3440, 15)
    assert rows[(16, "hit")]["rps_ratio"] == 0.5 and rows[(16, "hit")]["verdict"] == "FAIL"


def test_shadow_points_stay_out_of_the_gateway_table_and_get_their_own():
    [credit16] = [r for r in gateway_ratios(SHADOW_POINTS) if r["connections"] == 16]
    assert (credit16["miss_rps"], credit16["hit_rps"]) == (1000, 4000)
    text = render_markdown(results(SHADOW_POINTS))
    assert "## Shadow at 100 %" in text
    assert ("| credit | miss | 1 | 1 | 800.0 | 700.0 | 0.88 | 1.20 | 1.35 | 0.15 | 1,400 | 0 "
            "| 0 | 0 | p50 +≤ 0.2 ms | **PASS** |") in text
    assert ("| credit | hit | 16 | 1 | 4,000.0 | 2,000.0 | 0.50 | 4.00 | 8.00 | 4.00 | 2,500 "
            "| 0 | 1,500 | 0 | req/s ≥ 0.85× | **FAIL** |") in text
    assert "| credit via gateway+shadow (hit) c16 b1 | 2,000.0 |" in text
    assert "Shadow at 100 %" not in render_markdown(results(POINTS))


def test_a_shadow_point_without_its_twin_has_no_verdict():
    [row] = shadow_rows([SHADOW_POINTS[1]])
    assert row["without_rps"] is None and row["rps_ratio"] is None
    assert row["added_p50_ms"] is None and row["verdict"] == ""


def test_cpu_per_request_splits_the_gateway_from_the_service_behind_it():
    plain = point("credit", "miss", 1, 1, [{**run(500, 1.0, 2), "requests": 1000,
                                            "cpu_s": {"gateway": 0.3, "credit": 0.5}}],
                  target="gateway")
    shadowed = shadow_point("miss", 1, [{**run(400, 1.4, 3), "requests": 800,
                                         "cpu_s": {"gateway-shadow": 0.32,
                                                   "credit-candidate": 0.8}}],
                            [{"sent": 800, "dropped": 0, "failed": 0}])
    [row] = shadow_rows([plain, shadowed])
    assert (row["without_gateway_cpu_ms"], row["without_service_cpu_ms"]) == (0.3, 0.5)
    assert (row["with_gateway_cpu_ms"], row["with_service_cpu_ms"]) == (0.4, 1.0)
    text = render_markdown(results([plain, shadowed]))
    assert "| miss | 1 | 0.300 | 0.400 | 0.500 | 1.000 | 0.800 | 1.400 |" in text
    assert "Where the time goes" not in render_markdown(results(SHADOW_POINTS))


def test_v2_and_before_points_pair_with_v1_and_stay_out_of_the_other_tables():
    variants = [{**point("credit", "", 16, 1, [run(1500, 10, 30)]), "variant": "v2"},
                {**point("credit", "", 16, 1, [run(1900, 8, 21)], target="credit@before"),
                 "variant": "before"}]
    [row] = protocol_rows(POINTS + variants)
    assert (row["v1_rps"], row["v2_rps"], row["before_rps"]) == (2000, 1500, 1900)
    assert row["v2_over_v1"] == 0.75 and row["v1_over_before"] == 1.05
    assert peer_ratios(POINTS + variants) == peer_ratios(POINTS)
    assert gateway_ratios(POINTS + variants) == gateway_ratios(POINTS)
    assert protocol_rows(POINTS) == []


def test_log_rows_pair_each_log_off_point_with_its_logging_twin_and_judge_the_goal():
    on = point("credit", "", 1, 1, [run(1000, 0.95, 2)])
    off = {**point("credit", "", 1, 1, [run(1080, 0.90, 2)], target="credit-nolog"),
           "key": "credit (log off) c1 b1", "log_off": True}
    slow = point("credit", "", 16, 1, [run(2000, 7, 20)])
    slow_off = {**point("credit", "", 16, 1, [run(4000, 4, 9)], target="credit-nolog"),
                "key": "credit (log off) c16 b1", "log_off": True}
    rows = log_rows([on, off, slow, slow_off])
    assert [(r["connections"], r["on_rps"], r["off_rps"], r["added_p50_ms"]) for r in rows] == [
        (1, 1000, 1080, 0.05), (16, 2000, 4000, 3)]
    assert rows[0]["verdict"] == "PASS"  # 0.926× and +0.05 ms
    assert rows[1]["verdict"] == "" and rows[1]["rps_ratio"] == 0.5  # no goal at 16
    worse = {**off, "median": summarize([run(1200, 0.90, 2)])}
    assert log_rows([on, worse])[0]["verdict"] == "FAIL"  # 0.83×
    # the log-off point never stands in for credit direct in the other tables
    assert gateway_ratios([on, off]) == gateway_ratios([on])
    markdown = render_markdown({**results([on, off]), "predlog": {"written": 5, "dropped": 0}})
    assert "## The prediction log at 100 %" in markdown and "5 written, 0 dropped" in markdown
