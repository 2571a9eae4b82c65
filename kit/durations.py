"""Durations as people type them — `90s`, `15m`, `2h`, `7d`, `2w` — read one way by every
command and route that takes a window (`finfleet retrain --since`, `finfleet drift report
--since`, the monitor's `?since=`)."""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def duration_seconds(text: str) -> float | None:
    """The seconds `text` names, or None when it is not a duration."""
    match = DURATION.match(text)
    return float(match[1]) * UNITS[match[2]] if match else None
