"""What every HTTP reader of an upstream API shares, so a new source keeps only its endpoints and parsers.

- `Gate`: before each attempt, the run's deadline, then the client-side rate limit, then the count
  of calls sent (what a report's `calls` says); a 429 pauses the whole rate budget through it.
- `Backoff`: the retry budget (extra attempts, jittered exponential waits, a cap on the total wait);
  `retry_after` reads the `Retry-After` a server sent (seconds or an HTTP date).
- `get_only`: the read-only guard's one test of a method; `ReadOnlyViolation` what it raises.
- `Redactor`: the configured secrets never reach a reason.

Each reader keeps its own loop around these (its upstream's errors and wording differ), and its
own list paging.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from checks import deadline
from checks.ratelimit import Limiter, RateLimitWait
from checks.sources import SourceError


class ReadOnlyViolation(SourceError):
    """Something tried to send a non-GET request through a reader."""


def get_only(method: str | bytes | None) -> str | None:
    """None for GET; otherwise the method's name as given, which a reader must refuse to send."""
    name = method.decode() if isinstance(method, bytes) else (method or "")
    return None if name.upper() == "GET" else name


class Gate:
    """Every attempt passes here first: no new attempt once the run's deadline has passed, a slot
    of the upstream's rate limit (or a clear SourceError when none comes in time), then counted."""

    def __init__(self, upstream: str, limiter: Limiter | None) -> None:
        self.upstream = upstream
        self._limiter = limiter
        self._calls = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        deadline.check()
        if self._limiter is not None:
            try:
                self._limiter.acquire()
            except RateLimitWait as exc:
                raise SourceError(
                    f"fpcheck's own {self.upstream} rate limit is saturated ({exc}); try again shortly"
                ) from None
        with self._lock:
            self._calls += 1

    def pause(self, seconds: float) -> None:
        """The upstream said "too many requests": every sender of this rate budget waits."""
        if self._limiter is not None:
            self._limiter.pause(seconds)

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        with self._lock:
            return self._calls


@dataclass(frozen=True)
class Backoff:
    """At most `retries` extra attempts; waits double from `base` (never over `cap`), jittered so
    parallel runs do not retry in step; all waits of one call together stay under `max_wait`."""

    retries: int
    base: float
    max_wait: float
    cap: float = float("inf")

    def delay(self, failed: int) -> float:
        """The wait after the `failed`-th failed attempt (1 for the first)."""
        return min(self.cap, self.base * 2 ** (failed - 1)) * random.uniform(0.5, 1.0)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds (a delay or an HTTP date), if the server sent one; any letter case."""
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class Redactor:
    """Takes the reader's secrets out of any text that may reach a reason or a log."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text
