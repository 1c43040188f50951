"""The engine: query in, Report out.  The terminal and the Slack bot both call `Engine.check`."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from checks import deadline, registry
from checks.cache import Cache, cache_from_settings
from checks.facts import Facts, Query
from checks.gather import Gatherer
from checks.model import Report, verdict_for
from checks.ratelimit import firstpromoter_bucket, stripe_bucket
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
        # shared by every run of this engine, so a burst of checks stays inside the upstream limits
        self.stripe_limiter = stripe_bucket(settings.stripe_key_mode)
        self.other_limiter = stripe_bucket("live" if settings.stripe_key_mode == "test" else "test")
        self.fp_limiter = firstpromoter_bucket()

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
        fp = FirstPromoterReader(
            s.firstpromoter_api_key.get_secret_value(),
            s.firstpromoter_account_id or "",
            s.firstpromoter_api_base,
            timeout=s.fpcheck_timeout,
            limiter=self.fp_limiter,
        )
        return stripe, fp, other

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
        try:
            # every read of this run, and the pool's threads, see the deadline (checks/deadline.py)
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
                ).gather(query)
        finally:
            # never wait for reads the deadline gave up on: their HTTP timeouts are clamped to it
            pool.shutdown(wait=False, cancel_futures=True)
        calls = {"stripe": stripe.calls + (other.calls if other else 0), "firstpromoter": fp.calls}
        return facts, calls

    def check(self, query: Query, only: Iterable[str] | None = None) -> Report:
        started = time.monotonic()
        facts, calls = self.gather(query)
        results = registry.run(facts, only=only)
        return Report(
            query=query.raw,
            verdict=verdict_for(results),
            checks=results,
            duration_ms=round((time.monotonic() - started) * 1000),
            calls=calls,
        )
