"""Two engine replicas sharing a real Redis (FPCHECK_REDIS_URL): account-level facts are read
once for both, stored as typed JSON, and expire with the TTL."""

from __future__ import annotations

import time

import redis

from checks.cache import RedisCache
from checks.engine import Engine
from checks.facts import TrackingCoupon
from checks.query import parse_query


def test_second_replica_reuses_what_the_first_read(clean_sandbox, redis_url) -> None:
    redis.Redis.from_url(redis_url).flushdb()
    one = Engine(clean_sandbox.settings(fpcheck_redis_url=redis_url))
    two = Engine(clean_sandbox.settings(fpcheck_redis_url=redis_url))
    assert isinstance(one.cache, RedisCache)
    first = one.check(parse_query("promo-code@example.com"))
    second = two.check(parse_query("promo-code@example.com"))
    assert second.calls["firstpromoter"] < first.calls["firstpromoter"]  # promoter campaigns not re-read
    assert second.calls["stripe"] < first.calls["stripe"]  # account and tracking coupon not re-read
    assert [r.status for r in second.checks] == [r.status for r in first.checks]
    assert second.result("coupon.id").summary == first.result("coupon.id").summary


def test_values_are_typed_json_and_expire(redis_url) -> None:
    client = redis.Redis.from_url(redis_url)
    cache = RedisCache(client, prefix="t:")
    loads = []

    def load() -> TrackingCoupon:
        loads.append(1)
        return TrackingCoupon(value="ANA20")

    got = cache.get_or_load("coupon", load, ttl=0.3, kind=TrackingCoupon)
    again = cache.get_or_load("coupon", load, ttl=0.3, kind=TrackingCoupon)
    assert got == again == TrackingCoupon(value="ANA20") and len(loads) == 1
    assert client.get("t:coupon").startswith(b"{")  # JSON, never a pickle
    time.sleep(0.4)
    cache.get_or_load("coupon", load, ttl=0.3, kind=TrackingCoupon)
    assert len(loads) == 2
