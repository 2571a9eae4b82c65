"""The prediction log's writer process: builds rows from queued records and writes them, so
none of that work takes the serving process's GIL.

Why a process and not a thread: measured in 2026-12, a writer thread at 100 % sampling cost
credit 20 % of its requests/s at one connection — the rows and the SQLite writes are ~20 µs a
record, and a thread doing them takes turns with the event loop on one interpreter lock. Here
the service's writer thread only joins a chunk of records, each already one JSON line made on
the request, and writes it to this process's stdin; parsing them, building rows and writing
them happens here (docs/monitoring.md, "What it costs").

The protocol, one parent and one child, over the child's stdin and stdout:
- frames parent → child: a 4-byte big-endian length, then the payload. The first frame is the
  configuration (JSON: the store, the model's name, user and text fields, the salt, whether
  text is logged as sent, the prediction's key field, the niceness to run at); each later frame
  is a chunk of records, one JSON line each (RECORD), joined by newlines;
- one JSON line child → parent per records frame: `{"written": n}` or
  `{"failed": n, "error": "..."}`;
- end of stdin: the child closes the store and exits (a parent that dies takes its child with
  it the same way).
`WriterProcess` is the parent's end.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import select
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from kit.predlog_store import LogStore, open_log_store

HEADER = struct.Struct("!I")
# One record (a request's predictions), a JSON array: prediction ids, unix time, version,
# request id, served by, instances, predictions, seconds, shadow_of (production's ids or null),
# then, on a sample, drift features (a dict per instance, or null each).
RECORD = ("ids", "ts", "version", "request_id", "served_by", "instances", "predictions",
          "seconds", "shadow_of", "features")
ACK_TIMEOUT_SECONDS = 60.0  # longer than any store's own timeouts (SQLite busy 10 s, PG 3+5 s)


class WriterUnavailable(RuntimeError):
    """The writer process died, hung or could not start (the records sent are failed)."""


# -- building rows (the child) -------------------------------------------------------------------

class RowBuilder:
    """Records → table rows: user ids hashed with the salt, free text summarised unless the
    configuration allows it as sent."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.name = config["name"]
        self.user_fields = tuple(config.get("user_fields", ()))
        self.text_fields = tuple(config.get("text_fields", ()))
        self.log_inputs = bool(config.get("log_inputs", False))
        self.key_field = config.get("key_field")
        self.salt = config["salt"].encode()

    def rows(self, line: bytes) -> list[tuple]:
        """One record's line (RECORD) → a row per prediction."""
        record = orjson.loads(line)
        (ids, ts, version, request_id, served_by, instances, predictions, seconds,
         shadow_of) = record[:9]
        features = record[9] if len(record) > 9 else None
        latency_ms = round(seconds * 1000, 4)
        redacts = bool(self.user_fields or self.text_fields)
        out = []
        for i, (pid, instance, prediction) in enumerate(zip(ids, instances, predictions,
                                                            strict=True)):
            user = None
            if redacts:
                instance, user = self.redacted(instance)
            key = (prediction.get(self.key_field)
                   if self.key_field and isinstance(prediction, dict) else None)
            feature = features[i] if features else None
            out.append((pid, request_id, ts, self.name, version, served_by,
                        None if key is None else str(key), user, _text(instance),
                        _text(prediction), latency_ms,
                        None if feature is None else _text(feature),
                        shadow_of[i] if shadow_of else None))
        return out

    def hashed(self, value: Any) -> str:
        return hmac.new(self.salt, str(value).encode(), hashlib.sha256).hexdigest()[:32]

    def redacted(self, instance: Any) -> tuple[Any, str | None]:
        """The instance as logged (user ids hashed, text summarised unless allowed) and the
        first user id's hash."""
        if not isinstance(instance, dict):
            return instance, None
        logged = dict(instance)
        user = None
        for path in self.user_fields:
            value = _get(logged, path)
            if value is not None:
                digest = self.hashed(value)
                _set(logged, path, digest)
                user = user or digest
        if not self.log_inputs:
            for path in self.text_fields:
                value = _get(logged, path)
                if isinstance(value, str):
                    _set(logged, path, {"chars": len(value), "words": len(value.split()),
                                        "digits": sum(c.isdigit() for c in value),
                                        "sha256": self.hashed(value)})
        return logged, user


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _get(instance: dict, path: str) -> Any:
    node: Any = instance
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set(instance: dict, path: str, value: Any) -> None:
    """Set a dotted path, copying each nested dict on the way (the caller's stays intact)."""
    parts = path.split(".")
    node = instance
    for part in parts[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[parts[-1]] = value


def open_store(config: dict[str, Any]) -> LogStore:
    return open_log_store(config.get("url"), Path(config["directory"]),
                          config.get("max_bytes", 64 << 20), config.get("keep_files", 4))


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The child's loop: configuration, then records frames until end of input."""
    first = read_frame(stdin)
    if first is None:
        return
    config = orjson.loads(first)
    if config.get("nice"):  # behind the service for the CPU (its queue waits, bounded)
        with contextlib.suppress(OSError):
            os.nice(config["nice"])
    builder, store = RowBuilder(config), open_store(config)
    try:
        while (frame := read_frame(stdin)) is not None:
            rows = [row for line in frame.split(b"\n") for row in builder.rows(line)]
            try:
                store.write_predictions(rows)
                reply: dict[str, Any] = {"written": len(rows)}
            except Exception as exc:  # down, refused, disk full: the parent counts and logs it
                reply = {"failed": len(rows), "error": f"{type(exc).__name__}: {exc}"}
            stdout.write(orjson.dumps(reply) + b"\n")
            stdout.flush()
    finally:
        store.close()


def main() -> None:
    """Stopped by the end of its input only: a SIGTERM or Ctrl-C sent to the service's whole
    process group must leave the writer to take the service's last flush."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)


# -- the parent's end ----------------------------------------------------------------------------

class WriterProcess:
    """Starts the child on first use (and again after it died), sends it chunks of records and
    waits for each one's reply; used from the service's one log thread."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p))
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from kit.predlog_writer import main; main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        self._send(orjson.dumps(self.config))

    def write(self, lines: list[bytes]) -> tuple[int, int, str | None]:
        """(written, failed, error) for one chunk of records' lines (RECORD); raises
        WriterUnavailable."""
        if self.process is None or self.process.poll() is not None:
            try:
                self.start()
            except OSError as exc:  # no process to be had (a pid limit, memory): tried again
                self.kill()
                raise WriterUnavailable(f"the log writer process did not start: {exc}") from exc
        self._send(b"\n".join(lines))
        line = self._reply()
        try:
            reply = orjson.loads(line)
        except orjson.JSONDecodeError as exc:  # not ours to read: start afresh
            self.kill()
            raise WriterUnavailable(f"the log writer answered {line[:80]!r}") from exc
        return reply.get("written", 0), reply.get("failed", 0), reply.get("error")

    def _send(self, payload: bytes) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(HEADER.pack(len(payload)) + payload)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.kill()
            raise WriterUnavailable(f"the log writer process is gone: {exc}") from exc

    def _reply(self) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], ACK_TIMEOUT_SECONDS)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            if ready:  # end of its output: it is exiting
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(5)
            code = self.process.poll()
            self.kill()
            raise WriterUnavailable("the log writer process " + (
                f"exited with status {code}" if code is not None
                else f"did not answer in {ACK_TIMEOUT_SECONDS:.0f} s"))
        return line

    def close(self, timeout: float = 10.0) -> None:
        """End of input (the child writes nothing more and exits), then wait for it."""
        if self.process is None:
            return
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        self.process = None


if __name__ == "__main__":
    main()
