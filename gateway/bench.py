"""`python -m gateway.bench`: the credit service direct vs through the gateway, cache miss vs hit,
driven by wrk on 127.0.0.1. Quotes medians over repeats and the ratios the issue's goal names:
miss ≥ 0.6× direct requests/s at 16 connections, ≤ 0.5 ms added p50 at 1 connection, hit ≥ 1.0×.

Misses are real: every request carries a distinct income, so nothing is cached or coalesced.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

import uvloop

from tests import procs

APPLICANT = {"age": 35, "income": 85000, "loan_amount": 500000, "tenure_months": 36,
             "existing_emis": 5000, "credit_history_months": 60, "delinquencies": 0,
             "utilisation": 0.3, "employment_type": "salaried"}

FIXED_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{body}'
"""

# A distinct income per request: a counter plus a per-run random fraction (seeded by the clock),
# so neither this run nor an earlier one has cached or can coalesce any of them.
UNIQUE_LUA = """math.randomseed(os.time())
local fraction = math.random(1, 999999) / 1000000
local counter = 0
request = function()
  counter = counter + 1
  local income = 30000 + (counter % 100000) + fraction
  local body = string.format('{template}', income)
  return wrk.format("POST", nil, {{["Content-Type"] = "application/json"}}, body)
end
"""


def lua_scripts(folder: Path, path: str) -> dict[str, Path]:
    single = json.dumps({"instances": [APPLICANT]}) if path.endswith(":predict") \
        else json.dumps(APPLICANT)
    template = single.replace('"income": 85000', '"income": %.6f').replace("'", "\\'")
    fixed, unique = folder / "fixed.lua", folder / "unique.lua"
    fixed.write_text(FIXED_LUA.format(body=single))
    unique.write_text(UNIQUE_LUA.format(template=template))
    return {"fixed": fixed, "unique": unique}


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [procs.require_binary("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(script), url], capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": float(p50.group(1)) * scale,
            "non_2xx": int(errors.group(1)) if errors else 0}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(procs_by_name: dict[str, procs.Proc], url: str, script: Path, connections: int,
             seconds: int) -> dict[str, float]:
    """wrk's numbers plus each process's CPU µs per request: a cost that a busy, shared
    machine distorts far less than requests/s."""
    before = {name: cpu_seconds(p.popen.pid) for name, p in procs_by_name.items()}
    result = wrk(url, script, connections, seconds)
    requests = max(1.0, result["rps"] * seconds)
    for name, proc in procs_by_name.items():
        used = cpu_seconds(proc.popen.pid) - before[name]
        result[f"{name}_cpu_us_per_req"] = used / requests * 1e6
    return result


async def client_cpu_us(origin: str, path: str, requests: int = 400) -> dict[str, float]:
    """The upstream-client choice: CPU µs this process spends per keep-alive POST with the
    gateway's own client, aiohttp and httpx, against the same running service, on uvloop as in
    the gateway (CPU time, so a busy machine distorts it less)."""
    import time

    import aiohttp
    import httpx

    from gateway.http1 import KeepAliveClient

    url = origin + path
    body = json.dumps({"instances": [APPLICANT]}).encode()
    headers = {"Content-Type": "application/json"}
    out = {}
    client = KeepAliveClient(origin)

    async def http1_post() -> None:
        await client.request("POST", path, body, headers=headers)

    out["gateway.http1"] = await _cpu_per_call(http1_post, requests, time.process_time)
    await client.close()
    async with aiohttp.ClientSession() as session:
        async def aiohttp_post() -> None:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()

        out["aiohttp"] = await _cpu_per_call(aiohttp_post, requests, time.process_time)
    async with httpx.AsyncClient() as client:
        async def httpx_post() -> None:
            (await client.post(url, content=body, headers=headers)).read()

        out["httpx"] = await _cpu_per_call(httpx_post, requests, time.process_time)
    return out


async def _cpu_per_call(call, requests: int, clock) -> float:
    for _ in range(20):
        await call()
    started = clock()
    for _ in range(requests):
        await call()
    return (clock() - started) / requests * 1e6


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    model_dir = args.model_dir
    if not (model_dir / "credit").is_dir():
        print(f"no credit model under {model_dir}; training a quick one…")
        model_dir = work / "models"
        procs.train_credit(model_dir)
    started: list[procs.Proc] = []
    try:
        credit = procs.start_credit(model_dir, work)
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
        direct_path = "/v1/models/credit:predict"
        scripts = lua_scripts(work, direct_path)
        targets = {"direct": credit.url + direct_path, "gateway": gateway.url + direct_path}
        for target in targets.values():  # warm up connections, caches and the JIT-free paths
            wrk(target, scripts["fixed"], 4, 1)
        cases = [
            ("direct c16", "direct", "unique", args.connections),
            ("gateway miss c16", "gateway", "unique", args.connections),
            ("gateway hit c16", "gateway", "fixed", args.connections),
            ("direct c1", "direct", "unique", 1),
            ("gateway miss c1", "gateway", "unique", 1),
            ("gateway hit c1", "gateway", "fixed", 1),
        ]
        clients = uvloop.run(client_cpu_us(credit.url, direct_path))
        print(f"client CPU µs per request: {clients}")
        samples: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in cases}
        for repeat in range(args.repeats):
            for name, target, script, connections in cases:
                result = measured({"credit": credit, "gateway": gateway}, targets[target],
                                  scripts[script], connections, args.seconds)
                samples[name].append(result)
                print(f"[{repeat + 1}/{args.repeats}] {name:<18} {result['rps']:>9.0f} req/s  "
                      f"p50 {result['p50_ms']:.3f} ms  non-2xx {result['non_2xx']}  CPU µs/req "
                      f"credit {result['credit_cpu_us_per_req']:.0f} "
                      f"gateway {result['gateway_cpu_us_per_req']:.0f}")
    finally:
        for proc in reversed(started):
            proc.stop()
    medians = {name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
               for name, runs in samples.items()}
    ratios = {
        "miss_rps_vs_direct_c16": medians["gateway miss c16"]["rps"] / medians["direct c16"]["rps"],
        "hit_rps_vs_direct_c16": medians["gateway hit c16"]["rps"] / medians["direct c16"]["rps"],
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
        lines.append(f"| {name} | {m['rps']:.0f} | {m['p50_ms']:.3f} | "
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
    parser.add_argument("--model-dir", type=Path, default=procs.REPO_ROOT / "models")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--redis", action="store_true", help="cache in a real redis-server")
    parser.add_argument("--out", type=Path, help="write JSON here and Markdown next to it")
    args = parser.parse_args()
    result = run(args)
    table = markdown(result)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        args.out.with_suffix(".md").write_text(table)


if __name__ == "__main__":
    main()
