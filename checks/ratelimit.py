"""Client-side rate limits, so a burst of checks stays inside the upstreams' published limits.

Stripe allows 25 requests/s in test mode (100 live) and FirstPromoter 400/minute per account, shared
with the merchant's other integrations.  Without Redis, a token bucket per upstream, shared by every
run of one process, spaces calls out instead of letting them bounce off 429s.  With
`FPCHECK_REDIS_URL`, one budget per upstream account lives in Redis (pyrate-limiter's sliding-window
bucket, a Lua script), so every replica and terminal run draws on the same budget.

Either way a 429 pauses every sender of that budget (`pause`): one process hitting the limit slows
all of them, for the `Retry-After` the upstream asked for (or a short default when it sent none).
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from checks import deadline

log = logging.getLogger(__name__)

# FirstPromoter sends no Retry-After with its 429: its budget is per minute, so wait a while
DEFAULT_PAUSE = 2.0


class RateLimitWait(Exception):
    """Waiting for a slot would take longer than the caller may wait."""


class Limiter(Protocol):
    def acquire(self) -> None:
        """Wait for a slot (bounded); raise RateLimitWait when it is too far away."""
        ...

    def pause(self, seconds: float) -> None:
        """The upstream answered 429: every sender of this budget waits `seconds`."""
        ...


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
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token now (possibly going into debt) and return how long to wait for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            return max(wait, self._paused_until - now)

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

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))
            self._tokens = min(self._tokens, 0.0)  # the upstream says we are over: no burst after it


class RedisLimiter:
    """One budget shared through Redis by every process that uses the same `key`.

    `rates` are (requests, seconds) windows that all must hold, e.g. Stripe test mode
    [(18, 1)]: no second sees more than 18 requests from all replicas together.
    """

    def __init__(self, client: Any, key: str, rates: list[tuple[int, float]], max_wait: float = 15.0) -> None:
        self.r, self.key, self.max_wait, self.rates = client, key, max_wait, rates
        self._pause_key = f"{key}:pause"
        self._leaked_at = 0.0
        self._warned_at = -1e9
        self._gap = min(s / n for n, s in rates)  # the shortest spacing the rates allow
        n, s = min(rates, key=lambda r: r[1])
        self._fallback = TokenBucket(rate=n / s, burst=max(1.0, n / 4), max_wait=max_wait)
        self._shared: tuple[Any, Any] | None = None  # (bucket, limiter), made on first use
        self._lock = threading.Lock()

    def _ready(self) -> tuple[Any, Any]:
        """The Redis bucket, made on first use (it loads a Lua script): a Redis that is down when
        the process starts must not stop it from starting."""
        with self._lock:
            if self._shared is None:
                from pyrate_limiter import Limiter as _Limiter
                from pyrate_limiter import Rate, RedisBucket
                from pyrate_limiter.limiter import SingleBucketFactory

                bucket = RedisBucket.init([Rate(n, int(s * 1000)) for n, s in self.rates], self.r, self.key)
                # no leaker thread per limiter: acquire() trims the window's log itself now and then
                self._shared = (bucket, _Limiter(SingleBucketFactory(bucket, schedule_leak=False)))
            return self._shared

    def _paused_for(self) -> float:
        raw = self.r.get(self._pause_key)
        return max(0.0, float(raw) - time.time()) if raw else 0.0

    def acquire(self) -> None:
        try:
            self._acquire()
        except RateLimitWait:
            raise
        except Exception as exc:  # Redis unreachable: keep to this process's share rather than fail
            if time.monotonic() - self._warned_at > 60.0:
                self._warned_at = time.monotonic()
                log.warning("shared rate budget unavailable (%s); using this process's own", type(exc).__name__)
            self._fallback.acquire()

    def _acquire(self) -> None:
        bucket, limiter = self._ready()
        started = time.monotonic()
        limit = min(self.max_wait, deadline.left())  # never wait past the run's deadline
        pause = self._paused_for()
        if pause > limit:
            raise RateLimitWait(f"the upstream asked every sender to wait {pause:.1f} s (over {limit:.1f} s)")
        if pause > 0:
            time.sleep(pause)
        if time.monotonic() - self._leaked_at > 5.0:
            self._leaked_at = time.monotonic()
            bucket.leak(bucket.now())  # drop entries older than the longest window
        # Poll without blocking: each attempt is stamped with the time it is really made.  (The
        # library's blocking wait re-stamps a waiting call by the sleep it planned, and a loaded
        # machine oversleeps, so calls land in the log earlier than they went out.)
        while not limiter.try_acquire("call", blocking=False):
            if time.monotonic() - started > limit:
                raise RateLimitWait(f"no slot within {limit:.1f} s")
            time.sleep(self._gap * random.uniform(0.5, 1.0))

    def pause(self, seconds: float) -> None:
        self._fallback.pause(seconds)
        until = time.time() + max(seconds, 0.0)
        try:
            # keep the later of two pauses; a lost race only shortens one pause a little
            current = self.r.get(self._pause_key)
            if current is None or float(current) < until:
                self.r.set(self._pause_key, f"{until:.3f}", px=max(1, int(seconds * 1000) + 1000))
        except Exception as exc:  # Redis unreachable: this process still pauses
            log.warning("could not share a rate-limit pause (%s)", type(exc).__name__)


STRIPE_RATES = {"test": [(18, 1.0)], "live": [(80, 1.0)]}
# 400/min is shared with the merchant's other integrations: keep 100 for them, and no more than 20 a second
FIRSTPROMOTER_RATES = [(300, 60.0), (20, 1.0)]


def stripe_bucket(mode: str | None) -> TokenBucket:
    # stay under 25/s in test mode and 100/s live: any 1 s window sees at most burst + rate
    return TokenBucket(rate=18.0, burst=5) if mode != "live" else TokenBucket(rate=80.0, burst=10)


def firstpromoter_bucket() -> TokenBucket:
    # 400/min is shared with the merchant's other integrations: any minute sees at most 120 + 180
    return TokenBucket(rate=3.0, burst=120)


def budget_key(*parts: str) -> str:
    """The Redis key of one upstream account's budget: a hash, never the credentials themselves."""
    return "fpcheck:rate:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def stripe_limiter(mode: str | None, client: Any | None, *account: str) -> Limiter:
    if client is None:
        return stripe_bucket(mode)
    return RedisLimiter(client, budget_key("stripe", *account), STRIPE_RATES["live" if mode == "live" else "test"])


def firstpromoter_limiter(client: Any | None, *account: str) -> Limiter:
    if client is None:
        return firstpromoter_bucket()
    return RedisLimiter(client, budget_key("firstpromoter", *account), FIRSTPROMOTER_RATES)
