"""The bench points: one row per (server, route, connections, instances, cache) to drive with wrk.

Services and fan-out routes come from the table of services (services.toml); `plan()` crosses
them with connection counts and batch sizes. Bodies are JSON text; `__N__` in a body is replaced
per request by `lua/post.lua` when the point measures cache misses, so no two requests share a
cache key.

Shadow points (`shadow=True`) are credit through a second gateway that copies every request to
a candidate version (`bench/shadow.py`); each sits right after its twin without shadow, so the
two are measured side by side in every round. Log-off points (target `credit-nolog`) are credit
direct on a second service with its prediction log off; the plain credit service logs every
request (the default, 100 %), and each log-off point sits right after its log-on twin.
Worker points (variant "w2", target `credit-w2`) are credit as two worker processes on one port
(`CREDIT_WORKERS=2`, kit/serve.py), each right after its one-process twin.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench import bentoml_peer, ray_peer
from bench.goals import WORKERS_VARIANT
from bench.mlserver import MODEL_NAME as MLSERVER_MODEL
from bench.shadow import MODEL as SHADOW_MODEL
from bench.shadow import SHADOW_GATEWAY
from kit.catalog import ServiceRow, load_catalog, value_at, with_value_at
from kit.v2 import json_request

VARY = "__N__"
# The services `--before` runs from the other checkout too, each beside its V1 points.
BEFORE_SERVICES = ("credit", "intent", "ner")


def before_target(name: str) -> str:
    """The server name of `name`'s service on the other checkout (`--before`)."""
    return f"{name}@before"
LOG_MODEL = "credit"
NOLOG_SERVICE = "credit-nolog"  # the same model with CREDIT_LOG_SAMPLE_RATE=0
WORKERS_SERVICE = "credit-w2"  # the same model, log on, as CREDIT_WORKERS worker processes
FLOOR = "floor"  # the trivial route on the services' stack (bench/floor.py)
# The credit service's peers (each serves the same booster) and the floor: route → (the server
# wrk drives, path, body): "v2" MLServer's V2 tensor, "matrix" `{"input": rows}` of the credit
# encoding, "v1" the credit service's own V1 body. Ray's two routes are one cluster's two apps.
PEER_ROUTES: dict[str, tuple[str, str, str]] = {
    "mlserver": ("mlserver", f"/v2/models/{MLSERVER_MODEL}/infer", "v2"),
    bentoml_peer.NAME: (bentoml_peer.NAME, bentoml_peer.PREDICT_PATH, "matrix"),
    **{route: (ray_peer.NAME, path, "matrix") for route, path in ray_peer.ROUTES.items()},
    FLOOR: (FLOOR, "/predict", "v1"),
}
_VARIED_NUMBER = re.compile(r'"(\d+\.' + VARY + r')"')


@dataclass(frozen=True)
class ServiceEntry:
    """A model service of the table: how to start it and one valid instance (with VARY in one
    value: appended to a text, or as the decimals of a number)."""

    row: ServiceRow

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def module(self) -> str:
        return self.row.module_name

    @property
    def env_prefix(self) -> str:
        return self.row.env_prefix

    def instance(self, n: str) -> dict:
        return varied(self.row.example, self.row.vary, n)


def varied(example: dict, path: str, n: str) -> dict:
    value = value_at(example, path)
    marked = f"{value} {n}" if isinstance(value, str) else f"{int(value)}.{n}"
    return with_value_at(example, path, marked)


SERVICES: dict[str, ServiceEntry] = {row.name: ServiceEntry(row)
                                     for row in load_catalog().services}

# Gateway fan-out routes: path, the services it needs, one body (with VARY in one value).
FANOUT_ROUTES: dict[str, tuple[str, tuple[str, ...], Callable[[str], dict]]] = {
    route.name: (route.path, route.needs,
                 functools.partial(varied, route.example, route.vary))
    for route in load_catalog().fanout
}


@dataclass(frozen=True)
class Point:
    """One thing to measure. `target` is the server wrk drives: a service, gateway or mlserver."""

    target: str
    route: str  # the service (direct or via gateway), "mlserver", or a fan-out route
    path: str
    connections: int
    instances: int
    cache: str = ""  # "" direct; "miss" or "hit" through the gateway
    shadow: bool = False  # through the gateway that shadows every request to the candidate
    # "v2": the service's V2 infer route (kit/v2.py) beside its V1 point; "before": V1 on the
    # service of another checkout (`--before`, the base commit's), beside V1 on this one's.
    variant: str = ""

    @property
    def log_off(self) -> bool:
        return self.target == NOLOG_SERVICE

    @property
    def key(self) -> str:
        if self.log_off:
            return f"{self.route} (log off) c{self.connections} b{self.instances}"
        gateway = "gateway+shadow" if self.shadow else "gateway"
        via = f" via {gateway} ({self.cache})" if self.cache else ""
        variant = f" {self.variant}" if self.variant else ""
        return f"{self.route}{variant}{via} c{self.connections} b{self.instances}"

    @property
    def needs(self) -> tuple[str, ...]:
        """The services that must be up for this point to mean anything."""
        if self.route in FANOUT_ROUTES:
            return FANOUT_ROUTES[self.route][1]
        if self.route in PEER_ROUTES:
            return () if self.route == FLOOR else ("credit",)
        return (self.route,)


def json_body(payload: dict) -> str:
    """JSON text where a string `"123.__N__"` becomes the bare number `123.__N__`."""
    return _VARIED_NUMBER.sub(r"\1", json.dumps(payload, separators=(",", ":")))


def body_for(point: Point, encode_credit: Callable[[list[dict]], list[list[float]]] | None = None,
             ) -> str:
    """The request body: VARY left in for cache misses, fixed digits (one per instance) else."""
    if point.route in PEER_ROUTES:
        kind = PEER_ROUTES[point.route][2]
        if kind == "v1":
            return body_for(replace(point, target="credit", route="credit"))
        if encode_credit is None:
            raise ValueError(f"the {point.route} body needs the credit feature encoder")
        instances = [json.loads(_fixed(SERVICES["credit"].instance, i + 1))
                     for i in range(point.instances)]
        return json.dumps(peer_body(kind, encode_credit(instances)))
    if point.route in FANOUT_ROUTES:
        text = json_body(FANOUT_ROUTES[point.route][2](VARY))
        return text if point.cache == "miss" else text.replace(VARY, "1")
    make = SERVICES[point.route].instance
    if point.variant == "v2":
        rows = [json.loads(_fixed(make, i + 1)) for i in range(point.instances)]
        return json.dumps(json_request(rows), separators=(",", ":"))
    if point.cache == "miss":
        instances = [json_body(make(VARY))] * point.instances
    else:
        instances = [_fixed(make, i + 1) for i in range(point.instances)]
    return '{"instances":[' + ",".join(instances) + "]}"


def _fixed(make: Callable[[str], dict], index: int) -> str:
    return json_body(make(VARY)).replace(VARY, str(index))


def peer_body(kind: str, rows: list[list[float]]) -> dict:
    """A peer's request for encoded rows: MLServer's V2 tensor, or `{"input": rows}`."""
    return v2_request(rows) if kind == "v2" else {"input": rows}


def v2_request(rows: list[list[float]]) -> dict:
    """The Open Inference (V2) request MLServer takes: one FP32 matrix. The booster loads as an
    XGBRegressor, whose `predict` (the default output) is already P(default) for a
    binary:logistic objective, so one probability per row comes back, as from ours."""
    flat = [float(v) for row in rows for v in row]
    return {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])],
                        "datatype": "FP32", "data": flat}]}


CONNECTIONS_FULL = (1, 16, 64)
BATCHES = (1, 32)
SHADOW_CONNECTIONS = (1, 16)  # the goals: p50 at one connection, req/s at 16


def shadow_twin(point: Point) -> Point:
    """The same point through the gateway that shadows it."""
    return replace(point, target=SHADOW_GATEWAY, shadow=True)


def log_twin(point: Point) -> Point:
    """The same direct point on the service whose prediction log is off."""
    return replace(point, target=NOLOG_SERVICE)


def baseline(point: Point) -> Point:
    """A shadow point's twin without shadow, a log-off point's twin with the log on (a plain
    point is its own)."""
    if point.log_off:
        return replace(point, target=point.route)
    return replace(point, target="gateway", shadow=False) if point.shadow else point


def select(points: list[Point], text: str) -> list[Point]:
    """The points whose key contains `text` (or one of its comma-separated parts), and the
    twin of each shadow or log point chosen (their tables compare the two), in the plan's
    order."""
    parts = [part for part in text.split(",") if part]
    chosen = {p for p in points if any(part in p.key for part in parts)}
    chosen |= {baseline(p) for p in chosen}
    chosen |= {log_twin(p) for p in chosen if log_twin(p) in points}
    return [p for p in points if p in chosen]


def plan(quick: bool, before: bool = False) -> list[Point]:
    """Every point of a run. Quick: 16 connections; the credit/peer pair, credit over V2,
    credit through the gateway (with and without shadow) and one fan-out route; every other
    service direct with one instance. Full: credit with and without shadow at 1 and 16
    connections. `before`: V1 on the other checkout's service (BEFORE_SERVICES) beside each of
    their V1 points."""
    points: list[Point] = []
    conns = (16,) if quick else CONNECTIONS_FULL
    for name, entry in SERVICES.items():
        path = f"/v1/models/{entry.name}:predict"
        batches = BATCHES if (name == "credit" or not quick) else (1,)
        for c, b in ((c, b) for c in conns for b in batches):
            points.append(Point(name, name, path, c, b))
            if name == LOG_MODEL and b == 1:
                points.append(log_twin(points[-1]))
            if name == LOG_MODEL:
                points.append(Point(WORKERS_SERVICE, name, path, c, b, variant=WORKERS_VARIANT))
            if before and name in BEFORE_SERVICES:
                points.append(Point(before_target(name), name, path, c, b, variant="before"))
            if name == "credit":
                points.append(Point(name, name, f"/v2/models/{name}/infer", c, b,
                                    variant="v2"))
        if name == "credit":
            # quick: the newer peers and the floor at one row only, to stay near its bound
            points += [Point(server, route, path, c, b)
                       for route, (server, path, _) in PEER_ROUTES.items()
                       for c in conns for b in batches
                       if not quick or route == "mlserver" or b == 1]
        if quick and name != "credit":
            continue
        via_gateway = [(c, 1) for c in conns] if name == "credit" else []
        if not quick:
            via_gateway += [(16, b) for b in BATCHES if (16, b) not in via_gateway]
        for c, b in via_gateway:
            for cache in ("miss", "hit"):
                points.append(Point("gateway", name, path, c, b, cache))
                if name == SHADOW_MODEL and b == 1 and c in SHADOW_CONNECTIONS:
                    points.append(shadow_twin(points[-1]))
    for route, (path, _, _) in FANOUT_ROUTES.items():
        if quick and route != "analyze/message":
            continue
        caches = ("hit",) if quick else ("miss", "hit")
        points += [Point("gateway", route, path, 16, 1, cache) for cache in caches]
    return points
