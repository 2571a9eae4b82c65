"""A client for the finfleet gateway, sync (`Client`) and async (`AsyncClient`).

    with Client("http://127.0.0.1:8000", api_key="…") as fleet:
        answer = fleet.predict("credit", {"age": 35, …})
        answer.prediction.probability_of_default, answer.model_version

`predict` returns an `Answer`: the model's name, the version that answered and the predictions,
each validated into the model's own pydantic `prediction_model` (found through the table of
services, `kit.catalog`, and imported lazily from `<module>.schema`); a model the table does not
list, or whose schema cannot be imported here, answers plain dicts. One instance (a dict) →
`answer.prediction`; a list → `answer.predictions` (`answer.prediction` is then the first).

Requests are retried only when no answer came back (connect error, connect timeout, the
connection dropped before a response), `retries` times with a short backoff; an HTTP status is
never retried. A non-2xx answer raises a `FinfleetError` subclass carrying the problem+json
fields (`status, title, detail, type, request_id, errors`).
"""

from __future__ import annotations

import ast
import asyncio
import functools
import importlib
import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Answer", "AsyncClient", "Client", "ConnectionFailed", "FanoutAnswer",
           "FinfleetError", "InvalidInput", "NotFound", "RateLimited", "ServerError", "Timeout",
           "Unauthorized", "Unavailable", "prediction_class"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Raised before any response arrived: the request cannot have been answered, so it is retried.
RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
BACKOFF_S = 0.1  # first pause; doubled each attempt


# --- errors -----------------------------------------------------------------------------------

class FinfleetError(Exception):
    """A failed call: the problem+json fields when the gateway sent them (else what is known)."""

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None,
                 type: str | None = None, request_id: str | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 body: Any = None) -> None:
        super().__init__(f"{status} {title}: {detail}" if status else detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.request_id = request_id
        self.errors = errors or []
        self.body = body

    @property
    def fields(self) -> list[str]:
        """The fields `errors` names (`instances[0].age`, …)."""
        return [e.get("field", "") for e in self.errors]


class InvalidInput(FinfleetError):
    """400, 413 or 422: the request is wrong; `errors` names each field."""


class Unauthorized(FinfleetError):
    """401 or 403: no API key, a wrong one, or not allowed."""


class NotFound(FinfleetError):
    """404: no such model or route."""


class RateLimited(FinfleetError):
    """429: `retry_after` is the seconds the gateway asked to wait (None when not said)."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class Unavailable(FinfleetError):
    """502, 503 or 504: the model behind the gateway is down, not ready, failing or too slow."""


class ServerError(FinfleetError):
    """Any other 5xx."""


class ConnectionFailed(FinfleetError):
    """No answer at all: the gateway could not be reached (after the retries)."""


class Timeout(FinfleetError):
    """The gateway took longer than the client's timeout to answer (not retried)."""


def _error_class(status: int) -> type[FinfleetError]:
    if status in (400, 413, 422):
        return InvalidInput
    if status in (401, 403):
        return Unauthorized
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status in (502, 503, 504):
        return Unavailable
    if status >= 500:
        return ServerError
    return FinfleetError


def error_from(response: httpx.Response) -> FinfleetError:
    """The exception for a non-2xx answer, problem+json or not."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        fallback = response.text.strip()[:500] or response.reason_phrase
    else:
        fallback = body["detail"]
    return problem_error(response.status_code, body, fallback=fallback,
                         title=response.reason_phrase, headers=response.headers,
                         text=response.text)


def problem_error(status: int, body: Any, *, fallback: str = "", title: str | None = None,
                  headers: httpx.Headers | None = None, text: str = "") -> FinfleetError:
    """The exception for one problem+json object (a whole answer, or one failed fan-out part)."""
    problem = body if isinstance(body, dict) else {}
    detail = problem.get("detail") if isinstance(problem.get("detail"), str) else fallback
    headers = headers or httpx.Headers()
    kwargs: dict[str, Any] = dict(
        status=problem.get("status") if isinstance(problem.get("status"), int) else status,
        title=problem.get("title") or title,
        type=problem.get("type"),
        request_id=problem.get("request_id") or headers.get("x-request-id"),
        errors=[e for e in problem.get("errors") or [] if isinstance(e, dict)],
        body=body if body is not None else text,
    )
    cls = _error_class(status)
    if cls is RateLimited:
        try:
            kwargs["retry_after"] = float(headers["retry-after"])
        except (KeyError, ValueError):
            kwargs["retry_after"] = None
    return cls(detail, **kwargs)


# --- typed results ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """One predict call's answer: `predictions` typed per model; `prediction` is the first (the
    only one when one instance was sent)."""

    model: str
    model_version: str | None
    predictions: list[Any]
    request_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def prediction(self) -> Any:
        return self.predictions[0]

    @property
    def prediction_ids(self) -> list[str | None]:
        """The prediction log's ids, parallel to `predictions`, for `outcomes` (None: not
        logged, e.g. answered from the gateway's cache); empty when the log is off."""
        if "prediction_id" in self.raw:
            return [self.raw["prediction_id"]]
        return list(self.raw.get("prediction_ids") or [])


@dataclass(frozen=True)
class FanoutAnswer:
    """A fan-out route's answer (`POST /v1/analyze/...`): each part an `Answer`, or the
    `FinfleetError` that part failed with when the gateway answered partially. `answer[part]`
    returns the part's `Answer` or raises its error."""

    route: str
    parts: dict[str, Answer | FinfleetError]
    partial: bool
    request_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getitem__(self, part: str) -> Answer:
        value = self.parts[part]
        if isinstance(value, FinfleetError):
            raise value
        return value


def _declared_class_name(model_file: Path) -> str | None:
    """The name `prediction_model = X` assigns in a service's model.py (read, not imported: the
    model module pulls in its runtime, e.g. onnxruntime)."""
    try:
        tree = ast.parse(model_file.read_text())
    except (OSError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name)
                and any(isinstance(t, ast.Name) and t.id == "prediction_model"
                        for t in node.targets)):
            return node.value.id
    return None


@functools.cache
def prediction_class(model: str) -> type | None:
    """The pydantic class of one `model` prediction, or None (unknown model, no schema here)."""
    try:
        from kit.catalog import load_catalog

        row = load_catalog().service(model)
        schema = importlib.import_module(row.module_name + ".schema")
    except (ImportError, KeyError, SystemExit):
        return None
    name = None
    spec = importlib.util.find_spec(row.module_name)
    if spec and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            name = _declared_class_name(Path(folder) / "model.py")
            if name:
                break
    cls = getattr(schema, name, None) if name else None
    return cls if hasattr(cls, "model_validate") else None


def _typed(model: str, items: list[Any]) -> list[Any]:
    cls = prediction_class(model)
    if cls is None:
        return items
    return [cls.model_validate(item) if isinstance(item, dict) else item for item in items]


def _answer(model: str, response: httpx.Response) -> Answer:
    body = response.json()
    items = [body["prediction"]] if "prediction" in body else list(body.get("predictions", []))
    return Answer(model=body.get("model_name", model), model_version=body.get("model_version"),
                  predictions=_typed(model, items),
                  request_id=response.headers.get("x-request-id"), raw=body)


def _fanout_answer(route: str, response: httpx.Response) -> FanoutAnswer:
    body = response.json()
    request_id = response.headers.get("x-request-id")
    parts: dict[str, Answer | FinfleetError] = {}
    for part, value in body.items():
        if not isinstance(value, dict) or "status" not in value:
            continue
        if value["status"] == 200:
            model = value.get("model_name", part)
            parts[part] = Answer(model=model, model_version=value.get("model_version"),
                                 predictions=_typed(model, [value.get("prediction")]),
                                 request_id=request_id, raw=value)
        else:
            parts[part] = problem_error(value["status"], value.get("error"),
                                        fallback=f"part {part!r} failed", text=str(value))
    return FanoutAnswer(route=route, parts=parts, partial=bool(body.get("partial")),
                        request_id=request_id, raw=body)


def fanout_path(route: str) -> str:
    """`analyze/message` or `/v1/analyze/message` → the gateway path."""
    route = route.strip("/")
    return "/" + (route if route.startswith("v1/") else f"v1/{route}")


# --- the clients ------------------------------------------------------------------------------

class _Base:
    def __init__(self, base_url: str, api_key: str | None, timeout: float | httpx.Timeout,
                 retries: int) -> None:
        if retries < 0:
            raise ValueError("retries must be ≥ 0")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self._options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            "headers": {"accept": "application/json",
                        **({"authorization": f"Bearer {api_key}"} if api_key else {})},
        }

    @staticmethod
    def _checked(response: httpx.Response) -> httpx.Response:
        if not response.is_success:
            raise error_from(response)
        return response

    @staticmethod
    def _no_answer(exc: Exception, attempts: int) -> FinfleetError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return Timeout(f"no answer within the timeout: {exc!r}")
        return ConnectionFailed(f"no answer after {attempts} attempt(s): {exc!r}")


class Client(_Base):
    """Synchronous client. `transport` and `event_hooks` go to httpx (tests, proxies)."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
                 timeout: float | httpx.Timeout = 10.0, retries: int = 2,
                 **httpx_options: Any) -> None:
        super().__init__(base_url, api_key, timeout, retries)
        self._http = httpx.Client(**self._options, **httpx_options)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(method, path, **kwargs)
        for attempt in range(self.retries + 1):
            try:
                return self._checked(self._http.send(request))
            except RETRYABLE as exc:
                if attempt == self.retries:
                    raise self._no_answer(exc, attempt + 1) from exc
                time.sleep(BACKOFF_S * 2 ** attempt)
            except httpx.TransportError as exc:
                raise self._no_answer(exc, attempt + 1) from exc
        raise AssertionError("unreachable")

    def predict(self, model: str, instances: dict[str, Any] | list[dict[str, Any]]) -> Answer:
        """One instance (a dict) or a batch (a list) through `POST /v1/<model>`."""
        return _answer(model, self._request("POST", f"/v1/{model}", json=instances))

    def fanout(self, route: str, body: dict[str, Any]) -> FanoutAnswer:
        """A fan-out route (`analyze/message`, `analyze/transaction`, …): several models asked
        at once; a part that failed is kept as its error (`answer.partial`)."""
        path = fanout_path(route)
        return _fanout_answer(path, self._request("POST", path, json=body))

    def outcomes(self, model: str, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        """`POST /v1/models/<model>/outcomes`: labels for earlier predictions, each
        `{"prediction_id" or "request_id", "label"}`; one result per item (stored / unknown).
        Safe to retry: a second label for a prediction replaces the first."""
        return self._request("POST", f"/v1/models/{model}/outcomes",
                             json={"outcomes": outcomes}).json()

    def models(self) -> list[dict[str, Any]]:
        """`GET /v1/models`: each model's version, readiness, circuit and traffic policy."""
        return self._request("GET", "/v1/models").json()["models"]

    def traffic(self, model: str) -> dict[str, Any]:
        """`GET /v1/models/<model>/traffic`: the policy and the candidate-vs-production report."""
        return self._request("GET", f"/v1/models/{model}/traffic").json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_Base):
    """The same methods as `Client`, awaited."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
                 timeout: float | httpx.Timeout = 10.0, retries: int = 2,
                 **httpx_options: Any) -> None:
        super().__init__(base_url, api_key, timeout, retries)
        self._http = httpx.AsyncClient(**self._options, **httpx_options)

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(method, path, **kwargs)
        for attempt in range(self.retries + 1):
            try:
                return self._checked(await self._http.send(request))
            except RETRYABLE as exc:
                if attempt == self.retries:
                    raise self._no_answer(exc, attempt + 1) from exc
                await asyncio.sleep(BACKOFF_S * 2 ** attempt)
            except httpx.TransportError as exc:
                raise self._no_answer(exc, attempt + 1) from exc
        raise AssertionError("unreachable")

    async def predict(self, model: str,
                      instances: dict[str, Any] | list[dict[str, Any]]) -> Answer:
        return _answer(model, await self._request("POST", f"/v1/{model}", json=instances))

    async def fanout(self, route: str, body: dict[str, Any]) -> FanoutAnswer:
        path = fanout_path(route)
        return _fanout_answer(path, await self._request("POST", path, json=body))

    async def outcomes(self, model: str, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        return (await self._request("POST", f"/v1/models/{model}/outcomes",
                                    json={"outcomes": outcomes})).json()

    async def models(self) -> list[dict[str, Any]]:
        return (await self._request("GET", "/v1/models")).json()["models"]

    async def traffic(self, model: str) -> dict[str, Any]:
        return (await self._request("GET", f"/v1/models/{model}/traffic")).json()

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
