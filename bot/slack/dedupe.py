"""Remember which Slack event ids were already handled, so a retried event is answered once.

Slack retries an event up to three times (at once, ~1 min, ~5 min later) when it thinks the first
delivery failed, so ids are kept for at least ten minutes.  The in-memory store is per process;
several processes (or several Socket Mode connections) need a shared store: anything with
`first_time(key) -> bool` will do.  `RedisSeenStore` is that store (`FPCHECK_REDIS_URL`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("fpcheck.slack")

MIN_TTL = 600.0  # seconds: Slack's last retry comes about five minutes after the first try


class SeenStore(Protocol):
    def first_time(self, key: str) -> bool:
        """True the first time `key` is offered within the store's time to live, False after."""
        ...


class MemorySeenStore:
    """Thread-safe, bounded (oldest ids dropped first) and expiring."""

    def __init__(
        self,
        ttl: float = MIN_TTL,
        max_items: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < MIN_TTL:
            raise ValueError(f"ttl must be at least {MIN_TTL:.0f} s: Slack retries for about five minutes")
        if max_items < 1:
            raise ValueError("max_items must be positive")
        self.ttl = ttl
        self.max_items = max_items
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> expiry, oldest first
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now + self.ttl
            while len(self._seen) > self.max_items:
                self._seen.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def _expire(self, now: float) -> None:
        # insertion order is expiry order (constant ttl), so stop at the first live entry
        while self._seen:
            key, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[key]


class RedisSeenStore:
    """Shared by every process and replica: `SET key 1 NX EX ttl` is atomic, so exactly one
    delivery of an event id wins.  If Redis cannot answer, the event is handled (answering a
    retry twice is better than never answering)."""

    def __init__(self, client: Any, ttl: float = MIN_TTL, prefix: str = "fpcheck:slack-event:") -> None:
        if ttl < MIN_TTL:
            raise ValueError(f"ttl must be at least {MIN_TTL:.0f} s: Slack retries for about five minutes")
        self.r = client
        self.ttl = ttl
        self.prefix = prefix

    def first_time(self, key: str) -> bool:
        try:
            return bool(self.r.set(self.prefix + key, "1", nx=True, ex=int(self.ttl)))
        except Exception as exc:  # redis.RedisError, OSError: Redis is down or slow
            log.warning("event dedupe: Redis did not answer (%s); handling event %s", type(exc).__name__, key)
            return True
