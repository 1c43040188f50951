"""What a big sweep leans on: the in-process rate limits sustain their configured rates, and the
in-memory cache stays bounded however many keys it sees."""

from __future__ import annotations

import threading

import pytest

from checks import ratelimit
from checks.cache import MemoryCache
from checks.ratelimit import FIRSTPROMOTER_RATES, RateLimitWait, WindowLimiter, floor_seconds


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def test_the_firstpromoter_limit_sustains_300_a_minute_and_no_window_sees_more(monkeypatch) -> None:
    t = FakeTime()
    monkeypatch.setattr(ratelimit.time, "sleep", t.sleep)
    limiter = WindowLimiter(FIRSTPROMOTER_RATES, clock=t.clock, max_wait=600.0)
    sent: list[float] = []
    for _ in range(1500):
        limiter.acquire()
        sent.append(t.now)
    # 1,500 calls: five full minutes' worth go out within four minutes and a few seconds
    assert 240.0 <= sent[-1] < 255.0
    assert max(sum(1 for x in sent if a <= x < a + 60.0) for a in sent) == 300
    assert max(sum(1 for x in sent if a <= x < a + 1.0) for a in sent) == 20
    assert floor_seconds(FIRSTPROMOTER_RATES, 1500) == pytest.approx(sent[-1])
    # the token bucket it replaces (3/s after a burst of 120) needed (1500 - 120) / 3 = 460 s
    assert ratelimit.firstpromoter_bucket().rates == FIRSTPROMOTER_RATES


def test_a_slot_too_far_away_is_refused_and_not_taken(monkeypatch) -> None:
    t = FakeTime()
    monkeypatch.setattr(ratelimit.time, "sleep", t.sleep)
    limiter = WindowLimiter([(2, 10.0)], clock=t.clock, max_wait=1.0)
    limiter.acquire()
    limiter.acquire()
    with pytest.raises(RateLimitWait):
        limiter.acquire()
    t.now = 10.0
    limiter.acquire()  # the refused call reserved nothing
    assert t.now == 10.0


def test_a_pause_holds_every_caller(monkeypatch) -> None:
    t = FakeTime()
    monkeypatch.setattr(ratelimit.time, "sleep", t.sleep)
    limiter = WindowLimiter(FIRSTPROMOTER_RATES, clock=t.clock, max_wait=60.0)
    limiter.pause(2.0)
    limiter.acquire()
    assert t.now == 2.0


def test_the_memory_cache_keeps_no_lock_for_keys_it_is_not_loading() -> None:
    cache = MemoryCache(max_entries=16)
    for i in range(5000):
        assert cache.get_or_load(f"k{i}", lambda i=i: i, ttl=60.0) == i
    assert len(cache._locks) == 0 and len(cache._data) <= 16
    with pytest.raises(ZeroDivisionError):
        cache.get_or_load("boom", lambda: 1 / 0, ttl=60.0)
    assert len(cache._locks) == 0


def test_the_memory_cache_still_loads_once_for_concurrent_callers() -> None:
    cache = MemoryCache()
    loads = 0
    gate = threading.Event()

    def load() -> int:
        nonlocal loads
        loads += 1
        gate.wait(2.0)
        return 7

    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get_or_load("k", load, ttl=60.0))) for _ in range(8)]
    for th in threads:
        th.start()
    gate.set()
    for th in threads:
        th.join(5.0)
    assert got == [7] * 8 and loads == 1 and cache._locks == {}
