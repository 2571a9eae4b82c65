"""`python -m gateway.bench`: the credit service direct vs through the gateway, cache miss vs hit,
driven by wrk on 127.0.0.1. Quotes medians over repeats and the ratios the issue's goal names:
miss ≥ 0.6× direct requests/s at 16 connections, ≤ 0.5 ms added p50 at 1 connection, hit ≥ 1.0×.

Misses are real: `bench/lua/post.lua` gives every request an income no other request of the run
had, so nothing is cached or coalesced.

Like `python -m bench.run`, a tool for a checkout, run from its root: it starts the credit
service, redis-server and wrk, none of which the gateway image has. So it drives wrk with the
fleet bench's runner, Lua script and bodies (`bench.wrk`, `bench.points`) rather than with a copy
in the gateway, or one moved into the kit that every image would then ship.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import uvloop

from bench.points import Point, body_for
from bench.wrk import WrkError, run_wrk, wrk_binary
from kit import procs
from kit.bench import Stopwatch
from kit.settings import REPO_ROOT

PREDICT = "/v1/models/credit:predict"
VARY_BASE = 100_000_000  # the first income decimals; each miss run starts 1,000,000 further


def bodies(folder: Path) -> dict[str, Path]:
    """One credit instance per request: "fixed" always the same (cache hits after the first),
    "unique" with the placeholder post.lua numbers per request (cache misses)."""
    paths = {}
    for name, cache in (("fixed", "hit"), ("unique", "miss")):
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(body_for(Point("gateway", "credit", PREDICT, 1, 1, cache)))
    return paths


def measured(servers: dict[str, procs.Proc], url: str, body: Path, connections: int,
             seconds: int, vary_start: int | None) -> dict[str, float]:
    """wrk's numbers plus each process's CPU µs per request: a cost that a busy, shared
    machine distorts far less than requests/s."""
    before = {name: proc.cpu_s() for name, proc in servers.items()}
    result = run_wrk(url, body, connections=connections, seconds=seconds,
                     vary_start=vary_start).to_dict()
    requests = max(1, result["requests"])
    for name, proc in servers.items():
        result[f"{name}_cpu_us_per_req"] = (proc.cpu_s() - before[name]) / requests * 1e6
    return result


async def client_cpu_us(origin: str, path: str, body: bytes,
                        requests: int = 400) -> dict[str, float]:
    """The upstream-client choice: CPU µs this process spends per keep-alive POST with the
    gateway's own client, aiohttp and httpx, against the same running service, on uvloop as in
    the gateway (CPU time, so a busy machine distorts it less)."""
    import aiohttp
    import httpx

    from gateway.http1 import KeepAliveClient

    url = origin + path
    headers = {"Content-Type": "application/json"}
    out = {}
    client = KeepAliveClient(origin)

    async def http1_post() -> None:
        await client.request("POST", path, body, headers=headers)

    out["gateway.http1"] = await _cpu_us_per_call(http1_post, requests)
    await client.close()
    async with aiohttp.ClientSession() as session:
        async def aiohttp_post() -> None:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()

        out["aiohttp"] = await _cpu_us_per_call(aiohttp_post, requests)
    async with httpx.AsyncClient() as client:
        async def httpx_post() -> None:
            (await client.post(url, content=body, headers=headers)).read()

        out["httpx"] = await _cpu_us_per_call(httpx_post, requests)
    return out


async def _cpu_us_per_call(call, requests: int) -> float:
    for _ in range(20):
        await call()
    stopwatch = Stopwatch(time.process_time)
    for _ in range(requests):
        with stopwatch:
            await call()
    return stopwatch.summary()["cpu"]["mean_ms"] * 1000


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    model_dir = args.model_dir
    if not (model_dir / "credit").is_dir():
        print(f"no credit model under {model_dir}; training a quick one…")
        model_dir = work / "models"
        procs.train("credit", model_dir, "--quick")
    started: list[procs.Proc] = []
    try:
        credit = procs.start_service("credit", model_dir, work, env={"CREDIT_LOG_LEVEL": "WARNING"})
        started.append(credit)
        redis = procs.start_redis(work) if args.redis else None
        if redis:
            started.append(redis)
        env = {"GATEWAY_UPSTREAMS": json.dumps({"credit": credit.url}),
               "GATEWAY_LOG_LEVEL": "WARNING"}
        if redis:
            env["GATEWAY_REDIS_URL"] = redis.url
        gateway = procs.start_gateway(env, work)
        started.append(gateway)
        paths = bodies(work)
        targets = {"direct": credit.url + PREDICT, "gateway": gateway.url + PREDICT}
        for target in targets.values():  # warm up connections, caches and the JIT-free paths
            run_wrk(target, paths["fixed"], connections=4, seconds=1)
        cases = [
            ("direct c16", "direct", "unique", args.connections),
            ("gateway miss c16", "gateway", "unique", args.connections),
            ("gateway hit c16", "gateway", "fixed", args.connections),
            ("direct c1", "direct", "unique", 1),
            ("gateway miss c1", "gateway", "unique", 1),
            ("gateway hit c1", "gateway", "fixed", 1),
        ]
        clients = uvloop.run(client_cpu_us(credit.url, PREDICT, paths["fixed"].read_bytes()))
        print(f"client CPU µs per request: {clients}")
        samples: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in cases}
        starts = itertools.count(VARY_BASE, 1_000_000)
        for repeat in range(args.repeats):
            for name, target, body, connections in cases:
                vary_start = next(starts) if body == "unique" else None
                result = measured({"credit": credit, "gateway": gateway}, targets[target],
                                  paths[body], connections, args.seconds, vary_start)
                samples[name].append(result)
                print(f"[{repeat + 1}/{args.repeats}] {name:<18} "
                      f"{result['requests_per_s']:>9.0f} req/s  "
                      f"p50 {result['p50_ms']:.3f} ms  non-2xx {result['non_2xx']}  CPU µs/req "
                      f"credit {result['credit_cpu_us_per_req']:.0f} "
                      f"gateway {result['gateway_cpu_us_per_req']:.0f}")
    finally:
        for proc in reversed(started):
            proc.stop()
    medians = {name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
               for name, runs in samples.items()}
    rps = {name: m["requests_per_s"] for name, m in medians.items()}
    ratios = {
        "miss_rps_vs_direct_c16": rps["gateway miss c16"] / rps["direct c16"],
        "hit_rps_vs_direct_c16": rps["gateway hit c16"] / rps["direct c16"],
        "miss_added_p50_ms_c1": medians["gateway miss c1"]["p50_ms"]
        - medians["direct c1"]["p50_ms"],
        "hit_added_p50_ms_c1": medians["gateway hit c1"]["p50_ms"] - medians["direct c1"]["p50_ms"],
    }
    return {"cache": "redis" if args.redis else "memory", "seconds": args.seconds,
            "client_cpu_us_per_request": clients,
            "repeats": args.repeats, "medians": medians, "ratios": ratios, "samples": samples}


def markdown(result: dict) -> str:
    lines = [f"Gateway bench (cache: {result['cache']}, {result['repeats']}× {result['seconds']} s "
             "per case, medians)", "",
             "| case | req/s | p50 ms | credit CPU µs/req | gateway CPU µs/req |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, m in result["medians"].items():
        lines.append(f"| {name} | {m['requests_per_s']:.0f} | {m['p50_ms']:.3f} | "
                     f"{m['credit_cpu_us_per_req']:.0f} | {m['gateway_cpu_us_per_req']:.0f} |")
    r = result["ratios"]
    lines += ["", f"- miss / direct at 16 connections: **{r['miss_rps_vs_direct_c16']:.2f}×** "
              "(goal ≥ 0.6×)",
              f"- hit / direct at 16 connections: **{r['hit_rps_vs_direct_c16']:.2f}×** "
              "(goal ≥ 1.0×)",
              f"- added p50 at 1 connection, miss: **{r['miss_added_p50_ms_c1']:.3f} ms** "
              "(goal ≤ 0.5 ms); hit: "
              f"{r['hit_added_p50_ms_c1']:.3f} ms",
              "- upstream client, CPU µs per keep-alive POST in the calling process: " + ", ".join(
                  f"{k} {v:.0f}" for k, v in result["client_cpu_us_per_request"].items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--redis", action="store_true", help="cache in a real redis-server")
    parser.add_argument("--out", type=Path, help="write JSON here and Markdown next to it")
    args = parser.parse_args()
    try:
        wrk_binary()
    except WrkError as exc:
        parser.error(str(exc))
    result = run(args)
    table = markdown(result)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        args.out.with_suffix(".md").write_text(table)


if __name__ == "__main__":
    main()
