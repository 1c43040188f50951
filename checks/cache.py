"""A small TTL cache for account-level facts (the Stripe account, promoter campaigns, coupons).

These change rarely and are the same for every query, so a second run within the TTL skips them.
`get_or_load` is single-flight: when fifty commands arrive at once, one of them loads the value
and the others wait for it instead of each calling the upstream API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import TypeAdapter

from checks import deadline
from checks.settings import ConfigError

log = logging.getLogger(__name__)


class Cache(Protocol):
    def get_or_load(self, key: str, load: Callable[[], Any], ttl: float, kind: Any = Any) -> Any:
        """The cached value of `key`, or `load()`'s (kept for `ttl` seconds).  `kind` is the
        value's type, for caches that store values outside the process."""
        ...


class MemoryCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 1024) -> None:
        self._clock = clock
        self._max = max_entries
        self._data: dict[str, tuple[float, Any]] = {}
        # a key's single-flight lock and how many runs hold or wait for it: it is dropped when the
        # last one leaves, so the locks are bounded by the loads in flight, not every key ever seen
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    def _fresh(self, key: str) -> tuple[bool, Any]:
        with self._guard:
            hit = self._data.get(key)
        if hit is not None and hit[0] > self._clock():
            return True, hit[1]
        return False, None

    def get_or_load(self, key: str, load: Callable[[], Any], ttl: float, kind: Any = Any) -> Any:
        if ttl <= 0:
            return load()
        ok, value = self._fresh(key)
        if ok:
            return value
        with self._guard:
            lock, users = self._locks.get(key) or (threading.Lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            with lock:  # single flight: the others wait here, then find the value fresh
                ok, value = self._fresh(key)
                if ok:
                    return value
                value = load()  # an exception is not cached: the next run tries again
                with self._guard:
                    if key not in self._data and len(self._data) >= self._max:
                        self._data.pop(next(iter(self._data)))
                    self._data[key] = (self._clock() + ttl, value)
                return value
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def clear(self) -> None:
        with self._guard:
            self._data.clear()


class RedisCache:
    """The same contract, shared by every replica through Redis (`FPCHECK_REDIS_URL`).

    Values are stored as JSON of their pydantic type (never pickled); single flight across
    replicas uses a short `SET NX` lock, and a waiter that outlives it loads the value itself.
    """

    def __init__(self, client: Any, prefix: str = "fpcheck:cache:", lock_ttl: float = 10.0) -> None:
        import redis

        self.r = client
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self._down: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._warned = False

    def _get(self, key: str, adapter: TypeAdapter[Any]) -> tuple[bool, Any]:
        raw = self.r.get(self.prefix + key)
        if raw is None:
            return False, None
        try:
            return True, adapter.validate_json(raw)
        except ValueError:  # written by another version: treat as a miss
            return False, None

    def get_or_load(self, key: str, load: Callable[[], Any], ttl: float, kind: Any = Any) -> Any:
        if ttl <= 0:
            return load()
        adapter: TypeAdapter[Any] = TypeAdapter(kind)
        ok, value = self._redis(self._get, key, adapter)
        if ok:
            return value
        lock = f"{self.prefix}lock:{key}"
        if not self._redis(self.r.set, lock, "1", nx=True, px=int(self.lock_ttl * 1000)):
            deadline = time.monotonic() + self.lock_ttl
            while time.monotonic() < deadline:  # bounded: another replica is loading it
                time.sleep(0.05)
                ok, value = self._redis(self._get, key, adapter)
                if ok:
                    return value
        try:
            value = load()
            self._redis(self.r.set, self.prefix + key, adapter.dump_json(value), px=max(1, int(ttl * 1000)))
            return value
        finally:
            self._redis(self.r.delete, lock)

    def _redis(self, op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One Redis operation; when Redis is away, what a miss (or a lock) looks like, so the check
        still runs and reads upstream directly.  Said once per process, not per call."""
        try:
            return op(*args, **kwargs)
        except self._down as exc:
            if not self._warned:
                self._warned = True
                log.warning("Redis (FPCHECK_REDIS_URL) is not answering (%s); carrying on without the shared cache",
                            type(exc).__name__)
            return (False, None) if op == self._get else (op == self.r.set)


def redis_client(url: str, timeout: float = 2.0) -> Any:
    import redis  # only replicas sharing state need it at run time

    # short timeouts: a slow Redis must not hold a Slack command past its deadline
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def shared_redis(url: str | None, *, required: bool = False, timeout: float | None = None) -> Any | None:
    """The process's one Redis client for FPCHECK_REDIS_URL, answering a ping; None when unset.

    `required` (`fpcheck serve`, whose replicas must share their state): a Redis that does not
    answer is a ConfigError naming the setting.  Otherwise (a terminal run) it is one warning line
    and None: the check itself does not need Redis."""
    if not url:
        return None
    if timeout is None:
        # the ping may use a quarter of the time left to the run's deadline, at most 2 s
        timeout = max(0.05, min(2.0, deadline.left() / 4))
    try:
        client = redis_client(url, timeout)
        client.ping()
    except Exception as exc:  # ValueError (a URL redis-py refuses), ConnectionError, TimeoutError
        if not required:
            log.warning("Redis (FPCHECK_REDIS_URL) is not answering (%s); carrying on without the shared cache",
                        type(exc).__name__)
            return None
        if isinstance(exc, ValueError):  # never echoed: the URL may hold a password
            raise ConfigError("FPCHECK_REDIS_URL: must start with redis://, rediss:// or unix://") from None
        raise ConfigError(f"cannot reach Redis at FPCHECK_REDIS_URL ({type(exc).__name__})") from None
    return client
