"""The request line's fast path writes what logging would, and steps aside for listeners."""

from __future__ import annotations

import io
import json
import logging

from kit.logs import json_logger, log_info

FIELDS = {"request_id": "r-1", "service": "svc", "method": "POST", "route": "/v1/x",
          "status": 200, "duration_ms": 0.843}


def _logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    logger = json_logger(name)
    stream = io.StringIO()
    logger.handlers[0].setStream(stream)
    return logger, stream


def test_the_fast_line_is_the_line_logging_writes():
    logger, stream = _logger("fast-line")
    logger.info("request", extra=FIELDS)
    log_info(logger, "request", FIELDS)
    slow, fast = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(fast) == list(slow)  # same keys, same order
    assert {k: v for k, v in fast.items() if k != "ts"} == {
        k: v for k, v in slow.items() if k != "ts"}
    assert fast["logger"] == "finfleet.fast-line" and fast["level"] == "info"


def test_another_handler_or_filter_gets_a_record_as_usual():
    logger, stream = _logger("fast-listened")
    records: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    capture = Capture()
    logger.addHandler(capture)
    try:
        log_info(logger, "request", FIELDS)
    finally:
        logger.removeHandler(capture)
    assert [(r.getMessage(), r.request_id) for r in records] == [("request", "r-1")]
    assert json.loads(stream.getvalue())["request_id"] == "r-1"  # the JSON line all the same

    tagged = logging.Filter()
    tagged.filter = lambda record: setattr(record, "trace_id", "t") or True  # type: ignore
    logger.addFilter(tagged)
    try:
        log_info(logger, "request", FIELDS)
    finally:
        logger.removeFilter(tagged)
    assert json.loads(stream.getvalue().splitlines()[-1])["trace_id"] == "t"


def test_a_level_above_info_writes_nothing():
    logger, stream = _logger("fast-quiet")
    logger.setLevel(logging.WARNING)
    log_info(logger, "request", FIELDS)
    assert stream.getvalue() == ""


def test_a_broken_stream_is_reported_by_logging_not_raised_to_the_request(monkeypatch):
    logger, _ = _logger("fast-broken")

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("the log pipe is gone")

    logger.handlers[0].setStream(Broken())
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(logger.handlers[0], "handleError", reported.append)
    log_info(logger, "request", FIELDS)  # does not raise
    assert [r.getMessage() for r in reported] == ["request"]
