"""What a process talks to, built in one place from its one loaded Settings.

`Wiring` holds what must exist once per process: the Redis client (FPCHECK_REDIS_URL), which the
cache, the shared rate budgets, the promoter-campaign index and the bot's stores (event dedupe,
digest, watch) all use; the cache; the rate budgets; the promoter-campaign index.  Every Stripe and
FirstPromoter reader is made by `stripe_reader` / `firstpromoter_reader` below: the per-person
readers of a run, the sweep's and the watch's listings, and `serve --check`'s probes, so keys, base
URLs, timeouts and budgets are wired the same way everywhere.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, TypeVar

from checks.cache import Cache, MemoryCache, RedisCache, shared_redis
from checks.campaign_index import (
    CampaignIndexer,
    DiskStore,
    MemoryStore,
    RedisStore,
    Store,
    default_cache_dir,
    scope_of,
)
from checks.ratelimit import Limiter, firstpromoter_limiter, stripe_limiter
from checks.settings import Settings
from checks.sources.firstpromoter import FirstPromoterReader
from checks.sources.firstpromoter_v1 import FirstPromoterV1Reader
from checks.sources.stripe import StripeReader

log = logging.getLogger(__name__)

S = TypeVar("S", bound=StripeReader)
F = TypeVar("F", bound=FirstPromoterReader)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def stripe_reader(settings: Settings, kind: type[S], *, other: bool = False, limiter: Limiter | None = None,
                  retries: int | None = None) -> S:
    """A reader of the main key's Stripe account (or, with `other`, the other mode's key).
    `retries` None keeps the reader's own; a probe passes 0 and no limiter."""
    return kind(
        _secret(settings.stripe_other_mode_api_key if other else settings.stripe_api_key),
        settings.stripe_api_base,
        timeout=settings.fpcheck_timeout,
        key_name="STRIPE_OTHER_MODE_API_KEY" if other else "STRIPE_API_KEY",
        limiter=limiter,
        **({} if retries is None else {"retries": retries}),
    )


def firstpromoter_reader(settings: Settings, kind: type[F], *, limiter: Limiter | None = None,
                         retries: int | None = None) -> F:
    return kind(
        _secret(settings.firstpromoter_api_key),
        settings.firstpromoter_account_id or "",
        settings.firstpromoter_api_base,
        timeout=settings.fpcheck_timeout,
        limiter=limiter,
        **({} if retries is None else {"retries": retries}),
    )


def firstpromoter_v1_reader(settings: Settings, *, limiter: Limiter | None = None,
                            retries: int | None = None) -> FirstPromoterV1Reader:
    """A reader of a FirstPromoter v1 ("legacy") account: FIRSTPROMOTER_V1_API_KEY, no account id."""
    return FirstPromoterV1Reader(
        _secret(settings.firstpromoter_v1_api_key),
        settings.firstpromoter_v1_api_base,
        timeout=settings.fpcheck_timeout,
        limiter=limiter,
        **({} if retries is None else {"retries": retries}),
    )


class Wiring:
    """One per process (the bot's engine, its sweeps, the digest and the watch share it).

    `cache`: a given cache is used as is (its Redis client, if it has one, is the process's);
    otherwise Redis when FPCHECK_REDIS_URL is set and answers, else this process's memory.
    `redis_required` (`fpcheck serve`): a Redis that does not answer is a ConfigError, not a warning.
    """

    def __init__(self, settings: Settings, cache: Cache | None = None, *, redis_required: bool = False) -> None:
        self.settings = s = settings
        if cache is None:
            self.redis: Any | None = shared_redis(s.fpcheck_redis_url, required=redis_required)
            self.cache: Cache = RedisCache(self.redis) if self.redis is not None else MemoryCache()
        else:
            self.redis = cache.r if isinstance(cache, RedisCache) else None
            self.cache = cache
        # after Redis, in the order `fpcheck serve` has always named the problems in
        s.require_upstreams()
        # shared by every run (and, with Redis, every process): a burst of checks stays inside the
        # upstream limits
        self.stripe_limiter = stripe_limiter(s.stripe_key_mode, self.redis, s.stripe_api_base,
                                             _secret(s.stripe_api_key))
        self.other_limiter = stripe_limiter("live" if s.stripe_key_mode == "test" else "test", self.redis,
                                            s.stripe_api_base, _secret(s.stripe_other_mode_api_key))
        # "v1": a legacy account (FIRSTPROMOTER_V1_API_KEY and no V2 key): the v1 reader everywhere a run reads
        self.fp_api_version = "v1" if s.firstpromoter_v1 else "v2"
        v1 = self.fp_api_version == "v1"
        self.fp_limiter = (firstpromoter_limiter(self.redis, s.firstpromoter_v1_api_base, "v1") if v1 else
                           firstpromoter_limiter(self.redis, s.firstpromoter_api_base, s.firstpromoter_account_id or ""))
        self.campaigns = CampaignIndexer(
            _index_store(s, cache, self.redis),
            s.fpcheck_cache_ttl,
            self.firstpromoter_source if v1 else functools.partial(self.firstpromoter, FirstPromoterReader),
            scope=(scope_of(s.firstpromoter_v1_api_base, "v1", _secret(s.firstpromoter_v1_api_key)) if v1 else
                   scope_of(s.firstpromoter_api_base, s.firstpromoter_account_id or "", _secret(s.firstpromoter_api_key))),
        )

    def stripe(self, kind: type[S], *, other: bool = False) -> S:
        """A new reader (each counts its own calls) on this process's Stripe budget."""
        return stripe_reader(self.settings, kind, other=other,
                             limiter=self.other_limiter if other else self.stripe_limiter)

    def firstpromoter(self, kind: type[F]) -> F:
        return firstpromoter_reader(self.settings, kind, limiter=self.fp_limiter)

    def firstpromoter_source(self) -> FirstPromoterReader | FirstPromoterV1Reader:
        """The reader of a run: v1 for a legacy account, else v2 (`fp_api_version` says which)."""
        if self.fp_api_version == "v1":
            return firstpromoter_v1_reader(self.settings, limiter=self.fp_limiter)
        return self.firstpromoter(FirstPromoterReader)


def _index_store(settings: Settings, cache: Cache | None, shared: Any | None) -> Store:
    """The index lives beside the cache: Redis when shared; an engine given its own in-memory
    cache keeps it in memory too (a fresh engine starts cold); else the on-disk cache."""
    if shared is not None:
        return RedisStore(shared)
    if isinstance(cache, MemoryCache):
        return MemoryStore()
    where = settings.fpcheck_cache_dir or default_cache_dir()
    try:
        return DiskStore(where)
    except Exception as exc:  # e.g. a read-only home: runs still work, each with its own index
        log.warning("cannot keep the promoter-campaign index in %s (%s); keeping it in memory",
                    where, type(exc).__name__)
        return MemoryStore()
