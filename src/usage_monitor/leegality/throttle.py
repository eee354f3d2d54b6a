"""One request budget for every worker of a run: a token bucket, and a run-wide pause after a 429.

Leegality's rate limits apply to the account, not to one connection, so when one worker is told to
slow down (429) every worker waits, instead of the others carrying on into more 429s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestThrottle:
    def __init__(
        self,
        requests_per_second: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self.rate = requests_per_second
        # A burst of up to one second's worth of requests, at least one.
        self.capacity = max(1.0, requests_per_second or 1.0)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may go out; returns the seconds waited.

        A caller takes its token at once, going into debt if the bucket is empty, and sleeps the debt
        off outside the lock: waits are exact and callers are served in arrival order.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                paused = self._paused_until - now
                if paused <= 0:
                    if self.rate is None:
                        return waited
                    self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                    self._updated = now
                    self._tokens -= 1
                    debt = -self._tokens / self.rate if self._tokens < 0 else 0.0
            if paused > 0:
                self._sleep(paused)
                waited += paused
                continue
            if debt > 0:
                self._sleep(debt)
            return waited + debt

    def pause(self, seconds: float) -> None:
        """Hold every worker for `seconds` from now (a 429's Retry-After or backoff)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
