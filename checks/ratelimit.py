"""Client-side rate limits, so a burst of checks stays inside the upstreams' published limits.

Stripe allows 25 requests/s in test mode (100 live) and FirstPromoter 400/minute per account, shared
with the merchant's other integrations.  A token bucket per upstream, shared by every run of one
process, spaces calls out instead of letting them bounce off 429s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from checks import deadline


class RateLimitWait(Exception):
    """Waiting for a slot would take longer than the caller may wait."""


class TokenBucket:
    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic, max_wait: float = 15.0
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_wait = rate, burst, max_wait
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token now (possibly going into debt) and return how long to wait for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        wait = self._reserve()
        if wait > min(self.max_wait, deadline.left()):  # never wait past the run's deadline
            with self._lock:
                self._tokens += 1  # give the slot back: we are not going to use it
            raise RateLimitWait(
                f"waited-for slot is {wait:.1f} s away (over {min(self.max_wait, deadline.left()):.1f} s)"
            )
        if wait > 0:
            time.sleep(wait)


def stripe_bucket(mode: str | None) -> TokenBucket:
    # stay under 25/s in test mode and 100/s live: any 1 s window sees at most burst + rate
    return TokenBucket(rate=18.0, burst=5) if mode != "live" else TokenBucket(rate=80.0, burst=10)


def firstpromoter_bucket() -> TokenBucket:
    # 400/min is shared with the merchant's other integrations: any minute sees at most 120 + 180
    return TokenBucket(rate=3.0, burst=120)
