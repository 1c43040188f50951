"""Client-side rate limits, so a burst of checks stays inside the upstreams' published limits.

Stripe allows 25 requests/s in test mode (100 live) and FirstPromoter 400/minute per account, shared
with the merchant's other integrations.  Without Redis, a token bucket per upstream, shared by every
run of one process, spaces calls out instead of letting them bounce off 429s.  With
`FPCHECK_REDIS_URL`, one budget per upstream account lives in Redis (pyrate-limiter's sliding-window
bucket, a Lua script), so every replica and terminal run draws on the same budget.

In one process the FirstPromoter budget is a sliding window of the same rates as in Redis
(`WindowLimiter`): a token bucket holding any minute to 300 must keep its burst inside that minute,
so it sustains only 300 minus the burst (a burst of 120 at 3/s sustained 180/min).  The log of the
last calls' times sustains the whole 300 and still lets 20 go at once.

Either way a 429 pauses every sender of that budget (`pause`): one process hitting the limit slows
all of them, for the `Retry-After` the upstream asked for (or a short default when it sent none).
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import deque
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


def schedule(sent: deque[float], rates: list[tuple[int, float]], now: float) -> float:
    """The earliest time at or after `now` (and after the last call sent) at which one more call keeps
    every (n, seconds) window at n calls at most, given the times of the calls already sent (oldest first)."""
    at = max(now, sent[-1]) if sent else now
    for n, seconds in rates:
        if len(sent) >= n:
            at = max(at, sent[-n] + seconds)
    return at


def floor_seconds(rates: list[tuple[int, float]], calls: int) -> float:
    """How long `calls` calls take at the least under `rates`, starting with none in the windows:
    the floor a run's wall time is measured against (bench/sweep.py)."""
    sent: deque[float] = deque(maxlen=max(n for n, _ in rates))
    at = 0.0
    for _ in range(max(calls, 0)):
        at = schedule(sent, rates, 0.0)
        sent.append(at)
    return at


class WindowLimiter:
    """The rates' windows in one process, exactly: each call is given the earliest time every window
    has room for it (first come, first served), so it sustains n per window, not n minus a burst.
    Holds the times of the last max(n) calls only."""

    def __init__(
        self, rates: list[tuple[int, float]], clock: Callable[[], float] = time.monotonic, max_wait: float = 15.0
    ) -> None:
        if not rates or any(n < 1 or s <= 0 for n, s in rates):
            raise ValueError("rates must be (n >= 1, seconds > 0) windows")
        self.rates, self.max_wait = list(rates), max_wait
        self._clock = clock
        self._sent: deque[float] = deque(maxlen=max(n for n, _ in rates))
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        limit = min(self.max_wait, deadline.left())  # never wait past the run's deadline
        with self._lock:
            now = self._clock()
            at = max(schedule(self._sent, self.rates, now), self._paused_until)
            if at - now > limit:  # nothing reserved: the slot stays free for a caller who can wait
                raise RateLimitWait(f"waited-for slot is {at - now:.1f} s away (over {limit:.1f} s)")
            self._sent.append(at)
        if at > now:
            time.sleep(at - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))


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
        # without Redis, this process keeps to the same windows on its own (all of them: the
        # shortest alone would let FirstPromoter's 20/s run to 1,200 a minute)
        self._fallback = WindowLimiter(rates, max_wait=max_wait)
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


def firstpromoter_bucket() -> WindowLimiter:
    # 400/min is shared with the merchant's other integrations: any minute sees at most 300, any
    # second 20, and 300 a minute is sustained
    return WindowLimiter(FIRSTPROMOTER_RATES)


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
