"""The engine: query in, Report out.  The terminal and the Slack bot both call `Engine.check`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from checks import deadline, fp_version, registry
from checks.cache import Cache
from checks.campaigns import CampaignIndex
from checks.facts import Facts, Query
from checks.gather import Gatherer
from checks.model import GUIDE_URL, Report, verdict_for
from checks.settings import Settings
from checks.sources.firstpromoter import FirstPromoterReader
from checks.sources.firstpromoter_v1 import FirstPromoterV1Reader
from checks.sources.stripe import StripeReader
from checks.wiring import Wiring

# Threads one run may use for concurrent upstream reads.
RUN_WORKERS = 12


class Engine:
    """Thread-safe and reusable: one per process.  Readers are made per run (so each report can
    count its own upstream calls); account-level facts are shared through the cache.

    `wiring`: the process's Redis client, cache, rate budgets and promoter-campaign index
    (checks/wiring.py), when another engine of the process already built them (a sweep's engine
    shares the bot's); by default the engine builds its own from `settings` (and `cache`)."""

    def __init__(self, settings: Settings, cache: Cache | None = None, *, wiring: Wiring | None = None) -> None:
        settings.require_upstreams()
        self.settings = settings
        self.wiring = wiring if wiring is not None else Wiring(settings, cache)
        self.cache = self.wiring.cache
        self.campaigns = self.wiring.campaigns

    @property
    def deadline(self) -> float:
        """Seconds one check may take (FPCHECK_DEADLINE)."""
        return self.settings.fpcheck_deadline

    def _readers(self) -> tuple[StripeReader, FirstPromoterReader | FirstPromoterV1Reader, StripeReader | None]:
        w = self.wiring
        other = w.stripe(StripeReader, other=True) if self.settings.stripe_other_mode_api_key is not None else None
        return w.stripe(StripeReader), w.firstpromoter_source(), other

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
                *((s.firstpromoter_v1_api_base, s.firstpromoter_v1_api_key.get_secret_value())
                  if s.firstpromoter_v1 and s.firstpromoter_v1_api_key else ()),
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
        return fp_version.mark(facts, self.wiring.fp_api_version), calls

    def check(self, query: Query, only: Iterable[str] | None = None) -> Report:
        return self.diagnose(query, only)[0]

    def diagnose(self, query: Query, only: Iterable[str] | None = None) -> tuple[Report, Facts]:
        """The report and the facts it was judged from (a fix is planned from exactly what it saw)."""
        started = time.monotonic()
        facts, calls = self.gather(query)
        results = registry.run(facts, only=only)
        return Report(
            query=query.raw,
            verdict=verdict_for(results, total=len(registry.all_checks())),
            checks=results,
            duration_ms=round((time.monotonic() - started) * 1000),
            calls=calls,
            setup_error=facts.setup_problem(),
            fp_api_version=facts.fp.api_version,
            guide_url=fp_version.guide_url(facts.fp.api_version, GUIDE_URL),
        ), facts
