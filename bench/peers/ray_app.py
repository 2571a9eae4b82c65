"""The Ray Serve peer: the credit XGBoost booster in one replica, deployed twice on one local
cluster: with `max_ongoing_requests` at Serve's default (5) at `/ray` and raised to 64 at
`/ray-m64`. Runs inside `bench/.venv-ray` only, as a driver that deploys and exits (the apps
stay up in the cluster started by `bench/ray_peer.py`):

    BENCH_BOOSTER=xgboost.json BENCH_HTTP_PORT=PORT python ray_app.py RAY_ADDRESS

`POST /ray {"input": [[float, ...], ...]}` → `[P(default), ...]`, one per row.
"""

import os
import sys

import numpy as np
import ray
import xgboost
from ray import serve
from starlette.requests import Request

ROUTES = {"ray": None, "ray-m64": 64}  # route → max_ongoing_requests (None: Serve's default)


def bind_replica_grpc_to_loopback() -> None:
    """Serve 2.60 starts each replica's inter-deployment gRPC server on `[::]:0` (every
    interface) with no setting to change it (`ray/serve/_private/replica.py`, `_on_initialized`,
    which runs after the deployment's `__init__`). One node needs it on loopback only: the
    helper it calls is wrapped to bind 127.0.0.1 instead. bench/listen.py checks the result."""
    from ray.serve._private import replica

    original = replica.add_port_to_grpc_server
    if getattr(original, "loopback", False):
        return

    def loopback(server, address: str):
        return original(server, address.replace("[::]", "127.0.0.1"))

    loopback.loopback = True
    replica.add_port_to_grpc_server = loopback


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0})
class CreditBooster:
    def __init__(self, booster_path: str) -> None:
        bind_replica_grpc_to_loopback()
        self.booster = xgboost.Booster(model_file=booster_path)
        self.booster.set_param({"nthread": 1})

    async def __call__(self, request: Request) -> list[float]:
        rows = np.asarray((await request.json())["input"], dtype=np.float32)
        return self.booster.inplace_predict(rows).tolist()


def main(address: str) -> None:
    ray.init(address=address, include_dashboard=False)
    serve.start(http_options={"host": "127.0.0.1", "port": int(os.environ["BENCH_HTTP_PORT"])})
    for route, limit in ROUTES.items():
        deployment = CreditBooster if limit is None else CreditBooster.options(
            max_ongoing_requests=limit)
        serve.run(deployment.bind(os.environ["BENCH_BOOSTER"]), name=route,
                  route_prefix=f"/{route}")
    print("deployed", ", ".join(f"/{r}" for r in ROUTES), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
