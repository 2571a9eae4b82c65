"""What the prediction log costs the serving process, per record, in CPU time.

`python -m bench.predlog_cost [--records N] [--model-dir DIR]` (or `python
<this checkout>/bench/predlog_cost.py` run from another checkout, to time that one's log): the
credit app in-process, one real answer, then N `offer` calls of it and one `flush` through the
real writer process. It prints, per record, the thread CPU time of `offer` (the request's
share, on the event loop) and of `flush` (the log thread's share, which takes the GIL from the
event loop), and the writer process's CPU (another process: it competes for a core, not the
GIL). Thread CPU time barely moves with the machine's load, unlike wall-clock benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path


def child_cpu_s(pid: int) -> float:
    """User + system seconds of `pid`'s live children (the writer process)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def measure(records: int, model_dir: Path, featured: float) -> dict[str, float]:
    from kit.predlog import FEATURE_BURST_SECONDS as burst
    from kit.testing import running_client
    from services.credit.app import build_app
    from services.credit.settings import CreditSettings

    with tempfile.TemporaryDirectory() as logs:
        app = build_app(CreditSettings(model_dir=model_dir, log_dir=Path(logs),
                                       log_flush_seconds=3600, quality_seconds=0,
                                       # the bucket's seconds: `featured` of the records
                                       log_features_per_second=featured * records / burst))
        async with running_client(app) as client:
            from kit.catalog import load_catalog
            example = load_catalog().service("credit").example
            answer = (await client.post("/v1/models/credit:predict",
                                        json={"instances": [example]})).json()
            log = app.state.predlog
            log.flush()
            scope = {"headers": [(b"content-type", b"application/json")],
                     "state": {"request_id": "0123456789abcdef"}, "path_params": {}}
            version, prediction = answer["model_version"], answer["predictions"][0]
            written = 0
            offer_s = flush_s = writer_s = 0.0
            for start in range(0, records, 2000):  # rounds of a queue's worth (never dropped)
                n = min(2000, records - start)
                began = time.thread_time()
                for _ in range(n):
                    log.offer(scope, version, [example], [prediction], 0.001, False)
                offer_s += time.thread_time() - began
                writer_before = child_cpu_s(os.getpid())
                began = time.thread_time()
                written += log.flush()
                flush_s += time.thread_time() - began
                writer_s += child_cpu_s(os.getpid()) - writer_before
    return {"records": records, "written": written,
            "offer_us": offer_s / records * 1e6, "flush_us": flush_s / records * 1e6,
            "writer_us": writer_s / records * 1e6}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--featured", type=float, default=0.03,
                        help="share of records with drift features (credit's 100 a second at "
                             "~3,500 req/s: 0.03)")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())  # the checkout it is run from, whichever this file's is
    found = asyncio.run(measure(args.records, args.model_dir, args.featured))
    print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in found.items()), f"load={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
