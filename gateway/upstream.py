"""The one place the gateway talks HTTP to model services: a pooled keep-alive client per
upstream (`gateway.http1`), per-upstream timeouts, one retry on connection errors, and a circuit
breaker.

Not httpx, nor aiohttp: CPU per keep-alive POST here was ~850–1,200 µs with httpx, ~190–270 µs
with aiohttp and ~60–85 µs with `gateway.http1` (`python -m gateway.bench` measures all three).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.circuit import STATE_NAMES, CircuitBreaker
from gateway.http1 import (
    ConnectFailed,
    ConnectionDropped,
    KeepAliveClient,
    MalformedResponse,
    Reply,
)
from gateway.metrics import GatewayMetrics
from gateway.settings import GatewaySettings
from kit.errors import ProblemError
from kit.tracing import UPSTREAM, Tracing, answered


class UnknownModel(ProblemError):
    status = 404
    title = "Unknown model"
    slug = "unknown-model"


class UpstreamUnavailable(ProblemError):
    status = 503
    title = "Upstream unavailable"
    slug = "upstream-unavailable"


class UpstreamFailed(ProblemError):
    status = 502
    title = "Upstream failed"
    slug = "upstream-failed"


class UpstreamTimeout(ProblemError):
    status = 504
    title = "Upstream timeout"
    slug = "upstream-timeout"


class UpstreamRejected(Exception):
    """The upstream refused the request (4xx): its answer goes back to the caller unchanged."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        super().__init__(f"upstream answered {status}")
        self.status = status
        self.body = body
        self.content_type = content_type


PRODUCTION = "production"
CANDIDATE = "candidate"  # canaried callers' requests
SHADOW = "shadow"  # copies of requests, flagged so the service writes no state


class Upstream:
    """One model service (one or more replicas' URLs, taken in turn): its clients, its breaker,
    and the calls the gateway makes to it. The `candidate` role is the same service's candidate
    version (its version-addressed predict), with a breaker of its own: a failing candidate
    never opens production's circuit."""

    def __init__(self, name: str, url: str, settings: GatewaySettings,
                 metrics: GatewayMetrics, role: str = PRODUCTION) -> None:
        self.name = name
        self.role = role
        self.label = name if role == PRODUCTION else f"{name}:{role}"  # in metrics
        self.urls = replica_urls(url)
        self.url = self.urls[0]
        self.metrics = metrics
        self.predict_path = f"/v1/models/{name}:predict"
        self.extra_headers: dict[str, str] = {}
        self.read_timeout = settings.read_timeout_for(name)
        self.probe_timeout = 1.0
        self.connections = settings.upstream_connections
        self.connect_timeout = settings.connect_timeout
        self.admin_token = settings.upstream_admin_token
        self.breaker = CircuitBreaker(
            settings.circuit_failures, settings.circuit_reset_seconds,
            on_change=metrics.circuit_state.labels(self.label).set,
        )
        self.clients: list[KeepAliveClient] = []
        self.tracing: Tracing | None = None  # set by the pool when tracing is on
        self._turn = 0
        self.metadata: dict[str, Any] = {}  # the last `GET /v1/models/<name>` (for the docs)

    @property
    def client(self) -> KeepAliveClient | None:
        """The client of the next replica in turn (the only one, usually)."""
        if not self.clients:
            return None
        self._turn = (self._turn + 1) % len(self.clients)
        return self.clients[self._turn]

    async def start(self) -> None:
        self.clients = [KeepAliveClient(url, limit=self.connections,
                                        connect_timeout=self.connect_timeout)
                        for url in self.urls]

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients))

    async def predict(self, instances: list[Any], request_id: str | None = None, *,
                      want_version: str | None = None,
                      headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The upstream's V1 predict answer; problem errors name the upstream, never its URL.
        `want_version`: an answer of another version is asked of the other replicas in turn
        (mid-release, one may not have swapped yet); the last answer stands if none has it.
        `headers`: this call's own (a shadow copy's production ids)."""
        body = orjson.dumps({"instances": instances})
        headers = {"Content-Type": "application/json", **self.extra_headers, **(headers or {})}
        if request_id:
            headers["X-Request-ID"] = request_id
        tries = len(self.clients) if want_version else 1
        for _ in range(max(1, tries)):
            answer = await self._predict_once(body, headers)
            if answer.get("model_version") == want_version or want_version is None:
                break
        return answer

    async def _predict_once(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        reply = await self.exchange("POST", self.predict_path, body, headers)
        return self._answer(reply.status, reply.body, reply.content_type)

    async def exchange(self, method: str, path: str, body: bytes,
                       headers: dict[str, str]) -> Reply:
        """One call through this upstream's circuit: an open circuit fails fast (503 with
        Retry-After); no connection, no answer or a broken one counts against it. The answer's
        status is the caller's to judge (`_answer`, `judge`)."""
        if not self.breaker.allow():
            self.metrics.upstream_requests.labels(self.label, "circuit_open").inc()
            raise UpstreamUnavailable(
                f"upstream '{self.name}' is failing; its circuit is open",
                headers={"Retry-After": str(max(1, round(self.breaker.retry_after())))},
            )
        started = time.perf_counter()
        try:
            return await self._post(method, path, body, headers)
        except ProblemError as exc:
            self.breaker.record_failure()
            self.metrics.upstream_requests.labels(self.label, _outcome(exc)).inc()
            raise
        except BaseException:  # cancelled, or a bug of ours: no verdict on the upstream
            self.breaker.abandon()
            raise
        finally:
            self.metrics.upstream_duration.labels(self.label).observe(
                time.perf_counter() - started)

    async def _post(self, method: str, path: str, body: bytes,
                    headers: dict[str, str]) -> Reply:
        """The client retries once where nothing reached the model (predict is pure). Traced,
        the call is a client span whose `traceparent` the upstream continues."""
        client = self.client
        assert client is not None, "Upstream.start() runs in the app lifespan"
        with self._problems():
            if self.tracing is None:
                return await client.request(method, path, body, headers=headers,
                                            timeout=self.read_timeout)
            with self.tracing.client_span(f"{method} {self.label}", headers, {
                    "http.request.method": method, "server.address": client.host,
                    "server.port": client.port, "url.path": path,
                    UPSTREAM: self.label}) as (span, traced):
                reply = await client.request(method, path, body, headers=traced,
                                             timeout=self.read_timeout)
                answered(span, reply.status)
                return reply

    @contextmanager
    def _problems(self) -> Iterator[None]:
        """The client's failures as the problems callers see, naming the upstream only."""
        try:
            yield
        except ConnectFailed as exc:
            raise UpstreamUnavailable(f"upstream '{self.name}' is not reachable") from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(f"upstream '{self.name}' did not answer in time") from exc
        except (ConnectionDropped, MalformedResponse) as exc:
            raise UpstreamFailed(f"upstream '{self.name}' broke the connection") from exc

    async def _get_json(self, path: str, client: KeepAliveClient | None = None
                        ) -> tuple[int, Any]:
        """A probe GET: (status, decoded JSON body)."""
        client = client or self.client
        assert client is not None, "Upstream.start() runs in the app lifespan"
        reply = await client.request("GET", path, timeout=self.probe_timeout)
        return reply.status, orjson.loads(reply.body)

    async def admin(self, method: str, path: str, body: Any = None, *,
                    client: KeepAliveClient | None = None,
                    deadline: float = 600.0) -> tuple[int, bytes, str]:
        """The service's `/admin` route (on one replica unless `client` names one: replicas
        share the registry), with the admin token the services are configured with. A gate
        can take minutes: a long deadline."""
        client = client or self.client
        assert client is not None, "Upstream.start() runs in the app lifespan"
        headers = {"Content-Type": "application/json"}
        if self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        with self._problems():
            reply = await client.request(method, f"/admin/{path}",
                                         orjson.dumps(body) if body is not None else b"",
                                         headers=headers, timeout=deadline)
        return reply.status, reply.body, reply.content_type

    async def live_quality(self) -> dict[str, Any]:
        """The service's live quality per version (`GET /v1/models/<name>/quality`), or
        `{"error"}` saying why there is none: the traffic view shows it beside the shadow
        comparison and never fails for it."""
        try:
            with self._problems():
                status, body = await self._get_json(f"/v1/models/{self.name}/quality")
        except (ProblemError, ValueError) as exc:
            return {"error": str(exc)}
        return body if status == 200 else {"error": f"upstream '{self.name}' answered {status}"}

    async def post(self, path: str, body: bytes, request_id: str | None
                   ) -> tuple[int, bytes, str]:
        """A POST passed through to one replica as it is (outcomes: replicas share the log),
        answered as the service answered; unreachable or slow is the usual problem."""
        client = self.client
        assert client is not None, "Upstream.start() runs in the app lifespan"
        headers = {"Content-Type": "application/json"}
        if request_id:
            headers["X-Request-ID"] = request_id
        with self._problems():
            reply = await client.request("POST", path, body, headers=headers,
                                         timeout=self.read_timeout)
        return reply.status, reply.body, reply.content_type

    def _answer(self, status: int, raw: bytes, content_type: str) -> dict[str, Any]:
        if status == 200:
            try:
                answer = orjson.loads(raw)
                if not isinstance(answer.get("predictions"), list):
                    raise ValueError("no predictions list")
            except (orjson.JSONDecodeError, ValueError, AttributeError) as exc:
                return self._fail(UpstreamFailed(
                    f"upstream '{self.name}' sent an answer that is not a V1 prediction"), exc)
            self.breaker.record_success()
            self.metrics.upstream_requests.labels(self.label, "ok").inc()
            return answer
        if status < 400:
            return self._fail(UpstreamFailed(f"upstream '{self.name}' failed with status {status}"))
        self.judge(status)
        raise UpstreamRejected(status, raw, content_type)

    def judge(self, status: int) -> None:
        """Count an answer by its status: below 500 (a 4xx is the caller's own mistake) the
        upstream works; a 5xx counts against its circuit and is raised as the caller's 502/503."""
        if status < 500:
            self.breaker.record_success()
            self.metrics.upstream_requests.labels(
                self.label, "ok" if status < 400 else "rejected").inc()
            return
        if status == 503:
            self._fail(UpstreamUnavailable(f"upstream '{self.name}' is not ready"))
        self._fail(UpstreamFailed(f"upstream '{self.name}' failed with status {status}"))

    def _fail(self, error: ProblemError, cause: Exception | None = None):
        self.breaker.record_failure()
        self.metrics.upstream_requests.labels(self.label, _outcome(error)).inc()
        raise error from cause

    async def releases(self) -> list[Served]:
        """What each replica serves now (those that can say): version and release seq."""
        async def one(client: KeepAliveClient) -> Served | None:
            try:
                status, meta = await self._get_json(f"/v1/models/{self.name}", client)
            except (ConnectionError, MalformedResponse, TimeoutError, orjson.JSONDecodeError):
                return None
            if status != 200 or not isinstance(meta, dict) or not meta.get("version"):
                return None
            self.metadata = meta
            release = meta.get("release")
            seq = release.get("seq") if isinstance(release, dict) else None
            loaded = meta.get("loaded")
            candidate = loaded.get("candidate") if isinstance(loaded, dict) else None
            return Served(str(meta["version"]), seq if isinstance(seq, int) else None,
                          candidate if isinstance(candidate, str) else None)

        found = await asyncio.gather(*(one(client) for client in self.clients))
        return [served for served in found if served is not None]

    async def describe(self) -> dict[str, Any]:
        """Metadata and readiness for `GET /v1/models`; a probe, so it skips the breaker."""
        out: dict[str, Any] = {"name": self.name, "version": None, "ready": False}
        try:
            status, ready = await self._get_json("/health/ready")
            out["ready"] = status == 200
            out["reason"] = ready.get("reason", "") if isinstance(ready, dict) else ""
            if out["ready"]:
                _, meta = await self._get_json(f"/v1/models/{self.name}")
                out["version"] = meta.get("version") if isinstance(meta, dict) else None
                out["trained_at"] = meta.get("trained_at") if isinstance(meta, dict) else None
                out["release"] = meta.get("release") if isinstance(meta, dict) else None
        except (ConnectionError, MalformedResponse) as exc:
            out["reason"] = "not reachable" if isinstance(exc, ConnectFailed) \
                else "broke the connection"
        except TimeoutError:
            out["reason"] = "no answer in time"
        except orjson.JSONDecodeError:
            out["reason"] = "bad answer"
        out["circuit"] = STATE_NAMES[self.breaker.state]
        return out


def _outcome(error: ProblemError) -> str:
    return error.slug.removeprefix("upstream-")


@dataclass(frozen=True)
class Served:
    """A version a replica serves, and the registry change behind it (None: it cannot say)."""

    version: str
    seq: int | None
    candidate: str | None = None  # the candidate version it holds beside production


def replica_urls(url: str) -> list[str]:
    """`http://a:8005` or several replicas' URLs separated by commas."""
    return [part.strip().rstrip("/") for part in url.split(",") if part.strip()]


class UpstreamPool:
    """All upstreams by model name, started and closed with the app."""

    def __init__(self, settings: GatewaySettings, metrics: GatewayMetrics,
                 tracing: Tracing | None = None) -> None:
        self.upstreams = {name: Upstream(name, url, settings, metrics)
                          for name, url in settings.upstreams.items()}
        # The candidate is asked on production's replicas, or on replicas of its own
        # (`candidate_upstreams`: the service run with <NAME>_MODEL_ALIAS=candidate), so that
        # canary and shadow work never takes production's cores.
        self.own_candidates = {name for name in settings.candidate_upstreams
                               if name in settings.upstreams}
        self.beside = {
            (name, role): Upstream(name, settings.candidate_upstreams.get(name, url), settings,
                                   metrics, role)
            for name, url in settings.upstreams.items() for role in (CANDIDATE, SHADOW)}
        for (_, role), upstream in self.beside.items():
            if role == SHADOW:
                upstream.extra_headers = {"X-Finfleet-Shadow": "1"}
            else:  # the service logs the prediction as served to a canaried caller
                upstream.extra_headers = {"X-Finfleet-Served-By": "canary"}
        self.traced = tracing is not None
        for upstream in (*self.upstreams.values(), *self.beside.values()):
            upstream.tracing = tracing

    def version_upstream(self, name: str, role: str, version: str) -> Upstream:
        """The model's candidate or shadow upstream, addressing `version`."""
        upstream = self.beside[(name, role)]
        upstream.predict_path = f"/v1/models/{name}/versions/{version}:predict"
        return upstream

    def get(self, name: str) -> Upstream:
        upstream = self.upstreams.get(name)
        if upstream is None:
            known = ", ".join(sorted(self.upstreams))
            raise UnknownModel(f"no model named '{name}'; known models: {known}")
        return upstream

    async def start(self) -> None:
        for upstream in (*self.upstreams.values(), *self.beside.values()):
            await upstream.start()

    async def close(self) -> None:
        await asyncio.gather(*(u.close() for u in (*self.upstreams.values(),
                                                   *self.beside.values())))

    async def not_ready(self, names: list[str]) -> list[str]:
        """Which of the upstreams `names` are not ready now (probed at once)."""
        states = await asyncio.gather(*(self.get(name).describe() for name in names))
        return [state["name"] for state in states if not state["ready"]]

    async def describe_all(self) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(u.describe() for u in self.upstreams.values())))
