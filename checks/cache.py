"""A small TTL cache for account-level facts (the Stripe account, promoter campaigns, coupons).

These change rarely and are the same for every query, so a second run within the TTL skips them.
`get_or_load` is single-flight: when fifty commands arrive at once, one of them loads the value
and the others wait for it instead of each calling the upstream API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class Cache(Protocol):
    def get_or_load(self, key: str, load: Callable[[], Any], ttl: float) -> Any: ...


class MemoryCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 1024) -> None:
        self._clock = clock
        self._max = max_entries
        self._data: dict[str, tuple[float, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _fresh(self, key: str) -> tuple[bool, Any]:
        with self._guard:
            hit = self._data.get(key)
        if hit is not None and hit[0] > self._clock():
            return True, hit[1]
        return False, None

    def get_or_load(self, key: str, load: Callable[[], Any], ttl: float) -> Any:
        if ttl <= 0:
            return load()
        ok, value = self._fresh(key)
        if ok:
            return value
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # single flight: the others wait here, then find the value fresh
            ok, value = self._fresh(key)
            if ok:
                return value
            value = load()  # an exception is not cached: the next run tries again
            with self._guard:
                if len(self._data) >= self._max:
                    self._data.pop(next(iter(self._data)))
                self._data[key] = (self._clock() + ttl, value)
            return value

    def clear(self) -> None:
        with self._guard:
            self._data.clear()
