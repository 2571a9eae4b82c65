"""A circuit breaker per upstream, so a dead model fails fast instead of costing every caller a
connect attempt or a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, HALF_OPEN, OPEN = 0, 1, 2
STATE_NAMES = {CLOSED: "closed", HALF_OPEN: "half_open", OPEN: "open"}


class CircuitBreaker:
    """Opens after `failures` consecutive failures; after `reset_seconds` lets one probe through
    (half-open): its success closes the circuit, its failure opens it again."""

    def __init__(
        self,
        failures: int,
        reset_seconds: float,
        on_change: Callable[[int], None] = lambda state: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = max(1, failures)
        self.reset_seconds = reset_seconds
        self.on_change = on_change
        self.clock = clock
        self.state = CLOSED
        self.consecutive_failures = 0
        self.opened_at = 0.0
        self.probe_in_flight = False
        on_change(CLOSED)

    def allow(self) -> bool:
        """Whether a call may go out now."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and self.clock() - self.opened_at >= self.reset_seconds:
            self._set(HALF_OPEN)
        if self.state == HALF_OPEN and not self.probe_in_flight:
            self.probe_in_flight = True
            return True
        return False

    def retry_after(self) -> float:
        return max(0.0, self.reset_seconds - (self.clock() - self.opened_at))

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self.probe_in_flight = False
        if self.state != CLOSED:
            self._set(CLOSED)

    def abandon(self) -> None:
        """A call that ended without an outcome (cancelled) frees the half-open probe slot."""
        self.probe_in_flight = False

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        self.probe_in_flight = False
        if self.state == HALF_OPEN or self.consecutive_failures >= self.threshold:
            self.opened_at = self.clock()
            self._set(OPEN)

    def _set(self, state: int) -> None:
        self.state = state
        self.on_change(state)
