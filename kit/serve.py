"""Run a service app under uvicorn on the settings' host and port (access log off: kit logs).

A model service may run as several worker processes on one port (`<NAME>_WORKERS`): one
process is held to one core by the GIL, and a replica per core on Kubernetes is the better
answer there, but on one machine (compose, a VM) the port's accept queue spread over workers
is what MLServer's and BentoML's own workers do. uvicorn's supervisor starts them (spawned,
each building the app from its import string), restarts one that dies, and stops them on
SIGTERM; the metrics of all of them are merged (kit/metrics.py).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
import sys
import tempfile
import time

import orjson
import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from kit import heap
from kit.errors import problem_body
from kit.metrics import MULTIPROCESS_ENV, process_exiting
from kit.settings import HttpSettings

# What the supervisor tells its workers: the app factory ("module:function"), its settings
# (class and JSON) and its pid.
FACTORY_ENV = "FINFLEET_APP_FACTORY"
SETTINGS_CLASS_ENV = "FINFLEET_SETTINGS_CLASS"
SETTINGS_ENV = "FINFLEET_SETTINGS"
SUPERVISOR_ENV = "FINFLEET_SUPERVISOR_PID"
WORKER_ENV = (MULTIPROCESS_ENV, FACTORY_ENV, SETTINGS_CLASS_ENV, SETTINGS_ENV, SUPERVISOR_ENV)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
CRASHES_ALLOWED, CRASH_WINDOW_SECONDS = 5, 60


class _CoalescingTransport:
    """Joins the writes of one event-loop turn into one `write`.

    uvicorn writes a response's status line and headers, then its body, as two writes: two
    send syscalls and two TCP segments, which wake the peer twice. A small JSON answer is
    sent in one segment this way. Everything else is the real transport's.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response in one send (at the response's end,
    or at the end of the loop turn for a response still streaming), and closing a connection
    whose request does not arrive whole within `request_timeout` seconds: uvicorn times out
    idle keep-alive connections but not a slow request head or body (slowloris)."""

    request_timeout: float = 10.0
    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))
        self._arm_request_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_request_timer()

    def on_message_complete(self) -> None:
        self._cancel_request_timer()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_request_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        self.transport.flush()
        super().on_response_complete()

    def _arm_request_timer(self) -> None:
        self._cancel_request_timer()
        self._request_timer = self.loop.call_later(self.request_timeout, self._request_too_slow)

    def _cancel_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_too_slow(self) -> None:
        self._request_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """A request httptools cannot parse (a NUL in a header, a bad request line) is answered
        as problem+json like every other error, not uvicorn's plain text."""
        body = orjson.dumps(problem_body(400, "Bad request", f"{msg} (not valid HTTP/1.1)",
                                         slug="bad-request"))
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
            + body)
        self.transport.close()


class ServedProtocol(CoalescingHttpToolsProtocol):
    """The protocol a server process runs, importable by name (a spawned worker unpickles its
    configuration); its request timeout is set from the settings before it serves."""


class _Workers(Multiprocess):
    """uvicorn's supervisor, also dropping the live gauges (kit/metrics.py) of every worker
    that left it, however it left (died, replaced, or retired by a SIGHUP restart): its
    replacement has another pid, and a scrape would otherwise count the gone one for ever.
    Workers that keep dying (killed for memory while loading, say) stop it, with status 1,
    after CRASHES_ALLOWED in CRASH_WINDOW_SECONDS: compose or Kubernetes then restarts the
    container with their back-off, as they would a single process, instead of a tight loop."""

    _known: frozenset[int] = frozenset()
    _deaths: tuple[float, ...] = ()  # when workers died, within the window
    crashed = False

    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        super().keep_subprocess_alive()
        now = time.monotonic()
        self._deaths = (*(t for t in self._deaths if now - t < CRASH_WINDOW_SECONDS),
                        *[now] * len(before - self._pids()))
        if len(self._deaths) > CRASHES_ALLOWED and not self.should_exit.is_set():
            logging.getLogger("uvicorn.error").error(
                "workers died %d times in %d s: stopping", len(self._deaths),
                CRASH_WINDOW_SECONDS)
            self.crashed = True
            self.should_exit.set()
        current = self._pids()
        for pid in self._known - current:
            process_exiting(pid)
        self._known = current

    def _pids(self) -> frozenset[int]:
        return frozenset(p.pid for p in self.processes if p.pid is not None)


def _exit_cleanly(signum: int, frame) -> None:
    sys.exit(0)


def _options(settings: HttpSettings) -> dict:
    ServedProtocol.request_timeout = settings.request_timeout
    return dict(
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        loop="uvloop",
        http=ServedProtocol,
        # Past this many connections (or requests in flight) new requests get a fast 503.
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_timeout,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: only the configured proxies.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
        timeout_graceful_shutdown=10,
    )


def _die_with_supervisor() -> None:
    """A worker whose supervisor is gone (killed with -9) must not serve on, holding the port
    and its log slot: the kernel sends it SIGTERM when the supervisor dies (Linux)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(os.environ[SUPERVISOR_ENV]):  # it died before the call above
        os.kill(os.getpid(), signal.SIGTERM)


def worker_app() -> FastAPI:
    """What each worker process serves: the app its factory builds from the supervisor's own
    settings (passed as JSON, so a worker serves exactly what the supervisor was given)."""
    _die_with_supervisor()
    try:
        settings_cls = import_from_string(os.environ[SETTINGS_CLASS_ENV])
        settings = settings_cls.model_validate_json(os.environ[SETTINGS_ENV])
        app = import_from_string(os.environ[FACTORY_ENV])(settings)
    except Exception:  # it would fail the same way on every restart: the supervisor stops
        logging.getLogger("uvicorn.error").exception("the worker could not build its app")
        sys.exit(STARTUP_FAILURE)
    _options(settings)  # the request timeout, as the supervisor's
    heap.enabled = True
    return app


def serve(app: FastAPI | str, settings: HttpSettings) -> None:
    """Serve `app`, or the app the factory `"module:function"` builds from `settings`; with
    `settings.workers` above one (a factory only), that many worker processes build their own."""
    # uvicorn drains on SIGTERM, then raises SIGTERM again under the handler it found here: with
    # the default one the process would end killed by the signal (status 143) after a clean
    # drain. A SIGTERM is how every supervisor stops a server, so it exits 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    workers = getattr(settings, "workers", 1)
    if workers > 1:
        if not isinstance(app, str):
            raise ValueError("workers build their own app: pass its factory as "
                             "'module:function', not an app")
        _serve_workers(app, settings, workers)
        return
    if isinstance(app, str):
        app = import_from_string(app)(settings)
    heap.enabled = True  # a server process: each swap settles its heap (kit/heap.py)
    uvicorn.run(app, **_options(settings))


def _serve_workers(factory: str, settings: HttpSettings, workers: int) -> None:
    """The supervisor: binds the port, shares it with the workers, merges their metrics in a
    folder of its own (removed, and the environment restored, when it stops)."""
    metrics_dir = tempfile.mkdtemp(prefix="finfleet-metrics-")
    given = {name: os.environ.get(name) for name in WORKER_ENV}
    os.environ.update({
        MULTIPROCESS_ENV: metrics_dir, FACTORY_ENV: factory, SUPERVISOR_ENV: str(os.getpid()),
        SETTINGS_CLASS_ENV: f"{type(settings).__module__}:{type(settings).__qualname__}",
        SETTINGS_ENV: settings.model_dump_json()})
    try:
        # A worker answers the supervisor's health pings from a thread that needs the GIL:
        # uvicorn's 5 s would kill one busy loading its model on a loaded machine.
        config = uvicorn.Config("kit.serve:worker_app", factory=True, workers=workers,
                                timeout_worker_healthcheck=30, **_options(settings))
        supervisor = _Workers(config, sockets=[config.bind_socket()])
        supervisor.run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        for name, value in given.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        sys.exit(STARTUP_FAILURE)  # a worker could not start (its log says why): so did we
    if supervisor.crashed:
        sys.exit(1)
