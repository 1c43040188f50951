"""The engine: query in, Report out.  The terminal and the Slack bot both call `Engine.check`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from checks import deadline, registry
from checks.cache import Cache, MemoryCache, RedisCache, cache_from_settings
from checks.campaign_index import (
    CampaignIndexer,
    DiskStore,
    MemoryStore,
    RedisStore,
    Store,
    default_cache_dir,
    scope_of,
)
from checks.campaigns import CampaignIndex
from checks.facts import Facts, Query
from checks.gather import Gatherer
from checks.model import Report, verdict_for
from checks.ratelimit import firstpromoter_limiter, stripe_limiter
from checks.settings import Settings
from checks.sources.firstpromoter import FirstPromoterReader
from checks.sources.stripe import StripeReader

log = logging.getLogger(__name__)

# Threads one run may use for concurrent upstream reads.
RUN_WORKERS = 12


class Engine:
    """Thread-safe and reusable: one per process.  Readers are made per run (so each report can
    count its own upstream calls); account-level facts are shared through the cache."""

    def __init__(self, settings: Settings, cache: Cache | None = None) -> None:
        settings.require_upstreams()
        self.settings = settings
        self.cache = cache if cache is not None else cache_from_settings(settings)
        # the cache's Redis client also holds the shared rate budgets and the index; none when
        # Redis is not configured or did not answer (then this process's budgets, the disk index)
        shared = self.cache.r if isinstance(self.cache, RedisCache) else None
        s = settings
        stripe_key = s.stripe_api_key.get_secret_value() if s.stripe_api_key else ""
        other_key = s.stripe_other_mode_api_key.get_secret_value() if s.stripe_other_mode_api_key else ""
        fp_key = s.firstpromoter_api_key.get_secret_value() if s.firstpromoter_api_key else ""
        # shared by every run of this engine (and, with Redis, every process): a burst of checks
        # stays inside the upstream limits
        self.stripe_limiter = stripe_limiter(s.stripe_key_mode, shared, s.stripe_api_base, stripe_key)
        self.other_limiter = stripe_limiter(
            "live" if s.stripe_key_mode == "test" else "test", shared, s.stripe_api_base, other_key
        )
        self.fp_limiter = firstpromoter_limiter(shared, s.firstpromoter_api_base, s.firstpromoter_account_id or "")
        self.campaigns = CampaignIndexer(
            _index_store(settings, cache, shared),
            s.fpcheck_cache_ttl,
            self._fp_reader,
            scope=scope_of(s.firstpromoter_api_base, s.firstpromoter_account_id or "", fp_key),
        )

    @property
    def deadline(self) -> float:
        """Seconds one check may take (FPCHECK_DEADLINE)."""
        return self.settings.fpcheck_deadline

    def _readers(self) -> tuple[StripeReader, FirstPromoterReader, StripeReader | None]:
        s = self.settings
        assert s.stripe_api_key is not None and s.firstpromoter_api_key is not None
        stripe = StripeReader(
            s.stripe_api_key.get_secret_value(),
            s.stripe_api_base,
            timeout=s.fpcheck_timeout,
            limiter=self.stripe_limiter,
        )
        other = (
            StripeReader(
                s.stripe_other_mode_api_key.get_secret_value(),
                s.stripe_api_base,
                timeout=s.fpcheck_timeout,
                key_name="STRIPE_OTHER_MODE_API_KEY",
                limiter=self.other_limiter,
            )
            if s.stripe_other_mode_api_key is not None
            else None
        )
        return stripe, self._fp_reader(), other

    def _fp_reader(self) -> FirstPromoterReader:
        s = self.settings
        assert s.firstpromoter_api_key is not None
        return FirstPromoterReader(
            s.firstpromoter_api_key.get_secret_value(),
            s.firstpromoter_account_id or "",
            s.firstpromoter_api_base,
            timeout=s.fpcheck_timeout,
            limiter=self.fp_limiter,
        )

    def index_wait(self) -> float:
        """How long a run waits for a cold promoter-campaign index: half the deadline, and time
        left after it for the tracking coupon's Stripe call."""
        s = self.settings
        return max(1.0, min(s.fpcheck_deadline * 0.5, s.fpcheck_deadline - s.fpcheck_timeout - 1.0))

    def gather(self, query: Query) -> tuple[Facts, dict[str, int]]:
        stripe, fp, other = self._readers()
        s = self.settings
        scope = "|".join(
            (
                s.stripe_api_base,
                s.stripe_api_key.get_secret_value() if s.stripe_api_key else "",
                s.firstpromoter_api_base,
                s.firstpromoter_account_id or "",
            )
        )
        pool = ThreadPoolExecutor(max_workers=RUN_WORKERS, thread_name_prefix="fpcheck-read")
        index_calls: list[int] = []  # FirstPromoter calls of an index build this run waited for

        def campaigns() -> CampaignIndex:
            return self.campaigns.get(self.index_wait(), index_calls)

        try:
            # every read of this run, and the pool's threads, see the deadline (checks/deadline.py);
            # an index build runs in its own thread, outside it: it outlives the report on purpose
            with deadline.bound(deadline.Deadline(s.fpcheck_deadline)):
                facts = Gatherer(
                    stripe=stripe,
                    fp=fp,
                    other_mode=other,
                    cache=self.cache,
                    cache_ttl=s.fpcheck_cache_ttl,
                    cache_scope=scope,
                    pool=pool,
                    deadline=s.fpcheck_deadline,
                    config=s.check_config(),
                    campaigns=campaigns,
                ).gather(query)
        finally:
            # never wait for reads the deadline gave up on: their HTTP timeouts are clamped to it
            pool.shutdown(wait=False, cancel_futures=True)
        calls = {"stripe": stripe.calls + (other.calls if other else 0), "firstpromoter": fp.calls + sum(index_calls)}
        return facts, calls

    def check(self, query: Query, only: Iterable[str] | None = None) -> Report:
        started = time.monotonic()
        facts, calls = self.gather(query)
        results = registry.run(facts, only=only)
        return Report(
            query=query.raw,
            verdict=verdict_for(results, total=len(registry.all_checks())),
            checks=results,
            duration_ms=round((time.monotonic() - started) * 1000),
            calls=calls,
        )


def _index_store(settings: Settings, cache: Cache | None, shared: object | None) -> Store:
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
