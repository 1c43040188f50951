"""One rate budget per upstream account: with Redis, every process draws on the same one; a 429
seen by one sender pauses all of them (with or without Redis)."""

from __future__ import annotations

import threading
import time

import redis

from checks.ratelimit import RedisLimiter, TokenBucket


def test_two_processes_share_one_budget_in_redis(redis_url) -> None:
    key = f"t:rate:{time.monotonic_ns()}"
    one = RedisLimiter(redis.Redis.from_url(redis_url), key, [(5, 1.0)])
    two = RedisLimiter(redis.Redis.from_url(redis_url), key, [(5, 1.0)])
    stamps: list[float] = []
    lock = threading.Lock()

    def send(limiter: RedisLimiter) -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=send, args=(lim,)) for lim in (one, two)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(stamps) == 10
    # 10 calls at 5 a second between both: the second five wait for the window to move on
    assert time.monotonic() - started >= 0.9
    stamps.sort()
    assert all(b - a >= 0.9 for a, b in zip(stamps, stamps[5:], strict=False))


def test_a_429_seen_by_one_replica_pauses_the_other(redis_url) -> None:
    key = f"t:rate:{time.monotonic_ns()}"
    one = RedisLimiter(redis.Redis.from_url(redis_url), key, [(100, 1.0)])
    two = RedisLimiter(redis.Redis.from_url(redis_url), key, [(100, 1.0)])
    one.pause(0.6)
    started = time.monotonic()
    two.acquire()
    assert time.monotonic() - started >= 0.5


def test_a_429_pauses_every_run_of_one_process() -> None:
    bucket = TokenBucket(rate=100.0, burst=100)
    bucket.pause(0.4)
    started = time.monotonic()
    bucket.acquire()
    assert time.monotonic() - started >= 0.35


def test_with_redis_down_each_process_keeps_to_its_own_budget() -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RedisLimiter(dead, "t:rate:dead", [(5, 1.0)])  # starting does not need Redis
    started = time.monotonic()
    for _ in range(8):  # a burst of 1, then 5 a second
        limiter.acquire()
    assert 1.0 <= time.monotonic() - started < 5.0
