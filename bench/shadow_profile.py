"""Where a shadowing gateway's own time goes: `python -m bench.shadow_profile [--seconds 5]`.

Starts the credit service (production), the candidate on a replica of its own (niced, as
`bench.run` does) and a gateway shadowing every credit request to it under cProfile; drives
`POST /v1/credit` with wrk (one body: cache hits, the point where the gateway is the busy
process) and prints the gateway's functions by own time. docs/releases.md reads it.
"""

from __future__ import annotations

import argparse
import cProfile  # noqa: F401  (the child imports it; named here so the reader sees it)
import json
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import shadow
from kit.catalog import load_catalog
from kit.procs import free_port, start, start_service, wait_ready

PROFILED_GATEWAY = ("import cProfile, sys; from gateway.__main__ import main; "
                    "cProfile.run('main()', sys.argv[1])")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="finfleet-shadow-profile-"))
    models = Path("models")
    version = shadow.production_version(models)
    if version is None:
        raise SystemExit("no credit model under models/")
    candidate = shadow.candidate_model_dir(models, version, work / "models")
    procs = [start_service("credit", models, work)]
    procs.append(start_service("credit", work / "models", work, wait=True,
                               env={"CREDIT_MODEL_ALIAS": "candidate"}))
    procs[-1].name = shadow.SHADOW_SERVICE
    port, stats = free_port(), work / "gateway.prof"
    env = {"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
           "GATEWAY_UPSTREAMS": json.dumps({"credit": procs[0].url}),
           "GATEWAY_CANDIDATE_UPSTREAMS": json.dumps({"credit": procs[1].url}),
           "GATEWAY_TRAFFIC": json.dumps(shadow.TRAFFIC)}
    gateway = start("gateway", [sys.executable, "-c", PROFILED_GATEWAY, str(stats)],
                    work / "gateway.log", env=env, url=f"http://127.0.0.1:{port}")
    try:
        wait_ready(gateway)
        shadow.wait_until(lambda: shadow.gateway_knows(gateway.url, candidate), 30)
        body = json.dumps(dict(load_catalog().service("credit").example))
        script = work / "post.lua"
        script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                          'wrk.headers["Content-Type"] = "application/json"\n')
        done = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s",
                               "-s", str(script), gateway.url + "/v1/credit"],
                              capture_output=True, text=True, check=False)
        print(done.stdout)
        print("shadow:", shadow.settle(gateway.url))
    finally:
        gateway.stop()
        for proc in procs:
            proc.stop()
    pstats.Stats(str(stats)).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
