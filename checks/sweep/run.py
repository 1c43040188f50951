"""Run a sweep: read the window's listings once, join, diagnose the candidates, group by cause.

The listings are read side by side.  On a big programme FirstPromoter's referral listing is the
last to end (300 calls a minute), so once Stripe's listings and the commissions are in, a payment
whose referral has been read is diagnosed while the rest are still listed (feed.py, known.py); the
others once the listing is whole.  What is reported comes from the final join of every listing: a
listing that did not end whole calls nothing lost, whatever was diagnosed early.

A candidate paid less than FirstPromoter's ~2 minutes (TRACKING_DELAY) before the sweep read the
commissions is not called lost: it is listed apart as too early to tell."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, as_completed
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from checks import deadline, money
from checks.campaigns import PromoterCampaign
from checks.engine import Engine
from checks.facts import Query, StripeCheckoutSession
from checks.model import SCHEMA_VERSION, Report, Status, Verdict
from checks.settings import Settings
from checks.sources import SourceError
from checks.sweep.feed import Feed
from checks.sweep.join import (
    Candidate,
    Payment,
    build_payments,
    campaign_coupons,
    commission_event,
    join,
)
from checks.sweep.known import KNOWN, SweepEngine
from checks.sweep.lists import (
    PAID_LOOKBACK,
    SESSION_LOOKBACK,
    Listing,
    PartialList,
    SweepFP,
    SweepStripe,
    sold_ids,
)
from checks.sweep.store import Referrals
from checks.sweep.window import Window
from checks.trail import TRACKING_DELAY

log = logging.getLogger(__name__)

LIST_WORKERS = 8  # Stripe time slices and FirstPromoter pages read side by side
# Candidates diagnosed at once (each run has its own concurrent reads).  A diagnosis waits for
# FirstPromoter's budget (its commission search) while the referral listing spends it: with more
# of them at once, the others' Stripe reads keep Stripe's budget busy meanwhile.  A sweep sharing
# the Slack bot's engine diagnoses fewer at once, so interactive checks do not queue behind it.
CHECK_WORKERS = 12
SHARED_CHECK_WORKERS = 6
# A sweep is a batch job: it may wait for the rate limits far longer than one interactive check.
SWEEP_MAX_WAIT = 600.0
SWEEP_DEADLINE = 120.0  # each candidate's diagnosis
# The whole sweep's listings and diagnoses: what ends the read of a big programme (there is no row
# cap).  100,000 payments take about 6 minutes at Stripe's test-mode rate limit alone.
SWEEP_TOTAL_DEADLINE = 1800.0


class PaymentOut(BaseModel):
    id: str
    amount: int  # minor units
    currency: str
    paid_at: str


class ReferralOut(BaseModel):
    id: int | None = None
    state: str | None = None
    promoter: str | None = None  # the promoter's name (or email)


class Lost(BaseModel):
    query: str
    payment: PaymentOut
    referral: ReferralOut
    verdict: Verdict
    matched_by: list[str] = Field(default_factory=list)  # addition: how the join found the person


class Early(BaseModel):
    """A referral's payment FirstPromoter has not had its ~2 minutes for yet: not called lost."""

    query: str
    payment: PaymentOut
    matched_by: list[str] = Field(default_factory=list)


class Cause(BaseModel):
    count: int = 0
    amount_usd: float = 0.0
    other_currencies: dict[str, float] = Field(default_factory=dict)  # addition: non-USD, not converted


class SweepResult(BaseModel):
    schema_version: int = SCHEMA_VERSION
    window: dict[str, str]
    scanned: dict[str, int]
    lost: list[Lost]
    by_cause: dict[str, Cause]
    # additions
    partial: bool = False
    incomplete: list[str] = Field(default_factory=list)  # what could not be read, and why
    cleared: int = 0  # candidates whose full diagnosis found the commission after all
    too_early: list[Early] = Field(default_factory=list)  # paid too recently to tell, newest first
    duration_ms: int = 0
    calls: dict[str, int] = Field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def lost_amount_usd(self) -> float:
        return round(sum(c.amount_usd for c in self.by_cause.values()), 2)


Progress = Callable[[str, int, int | None], None]  # (step, advance by, new total or None)


def _cause(verdict: Verdict, report: Report) -> str:
    if verdict.check:
        return verdict.check
    if verdict.status is Status.WARN:
        first = next((r for r in report.checks if r.status is Status.WARN), None)
        if first is not None:
            return first.id
    return "error" if verdict.status is Status.ERROR else "unknown"


def _query(p: Payment) -> Query:
    if p.email:
        return Query(raw=p.email, email=p.email)
    if p.customer_id:
        return Query(raw=p.customer_id, customer_id=p.customer_id)
    return Query(raw=p.id)


def _parts(a: int, b: int) -> int:
    """How many time slices to read [a, b] in: one per 3 days, at most LIST_WORKERS."""
    return max(1, min(LIST_WORKERS, round((b - a) / timedelta(days=3).total_seconds()) or 1))


def _payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(id=p.id, amount=p.amount, currency=p.currency, paid_at=p.paid_at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _early(c: Candidate) -> Early:
    return Early(query=_query(c.payment).raw, payment=_payment_out(c.payment), matched_by=list(c.matched_by))


def _too_early(report: Report) -> bool:
    """The diagnosis could not conclude because the person's latest payment is under ~2 minutes old
    (payment.timing warns; nothing fails).  A payment made before the referral existed makes
    payment.timing fail instead: that one is lost, with its own fix."""
    timing = report.result("payment.timing")
    return report.verdict.status is Status.WARN and timing is not None and timing.status is Status.WARN


def _promoter(ref: dict[str, Any] | None) -> str | None:
    link = (ref or {}).get("promoter_campaign") or {}
    person = link.get("promoter") or {}
    return person.get("name") or person.get("email")


class Sweeper:
    def __init__(self, settings: Settings, engine: Engine | None = None, limit: int | None = None) -> None:
        """Without `engine`, the sweep has its own engine whose rate limiters wait as long as a batch
        job may.  With one (the Slack bot's), it shares that engine's wiring (cache, rate limiters,
        promoter-campaign index), so a sweep and interactive checks together stay inside the
        upstream limits."""
        settings = settings.model_copy(update={"fpcheck_deadline": max(settings.fpcheck_deadline, SWEEP_DEADLINE)})
        self.settings = settings
        self.engine: Engine = SweepEngine(settings, wiring=engine.wiring if engine is not None else None)
        if engine is None:
            for limiter in (self.engine.wiring.stripe_limiter, self.engine.wiring.fp_limiter):
                limiter.max_wait = max(limiter.max_wait, SWEEP_MAX_WAIT)
        self.limit = limit  # diagnose at most this many candidates (newest first)
        self.check_workers = CHECK_WORKERS if engine is None else SHARED_CHECK_WORKERS

    def _readers(self) -> tuple[SweepStripe, SweepFP]:
        return self.engine.wiring.stripe(SweepStripe), self.engine.wiring.firstpromoter(SweepFP)

    def run(self, window: Window, progress: Progress | None = None) -> SweepResult:
        started = time.monotonic()
        # FirstPromoter's commissions are read from now on: a payment made less than TRACKING_DELAY
        # before may get its commission after the read, so it is too early to call it lost
        read_at = datetime.now(UTC)
        tick: Progress = progress or (lambda step, n, total: None)
        stripe, fp = self._readers()
        on_page: Callable[[int], None] = lambda n: tick("read", n, None)  # noqa: E731
        # every read below (and each diagnosis, whose own deadline is shorter) ends by the sweep's
        # deadline; the pools run their tasks in this context so their reads see it
        referrals = Referrals()
        try:
            with deadline.bound(deadline.Deadline(SWEEP_TOTAL_DEADLINE, start=started)):
                return self._run(window, tick, started, read_at, stripe, fp, on_page, referrals)
        finally:
            referrals.close()

    def _run(
        self, window: Window, tick: Progress, started: float, read_at: datetime,
        stripe: SweepStripe, fp: SweepFP, on_page: Callable[[int], None], referrals: Referrals,
    ) -> SweepResult:
        a, b = int(window.start.timestamp()), int(window.end.timestamp())
        # invoices and Checkout Sessions created before the window may be paid inside it (lists.py)
        inv_a, cs_a = a - int(PAID_LOOKBACK.total_seconds()), a - int(SESSION_LOOKBACK.total_seconds())
        parts, inv_parts = _parts(a, b), _parts(inv_a, b)
        incomplete: list[str] = []
        failed: set[str] = set()
        got: dict[str, Any] = {}  # what each listing read: a Listing from Stripe, FirstPromoter's rows
        # commissions are created after the sale: from the window's first day on, no upper bound
        since = (window.start.astimezone(UTC) - timedelta(days=1)).date().isoformat()
        invoices_read: Future[Listing[Any]] = Future()

        def read_invoices() -> Listing[Any]:
            try:
                got = stripe.paid_invoices(inv_a, b, pool, inv_parts, on_page, Listing(slim=True))
            except BaseException as exc:
                invoices_read.set_exception(exc)
                raise
            invoices_read.set_result(got)
            return got

        def read_charges() -> Listing[Any]:
            # after the invoices: a charge that paid one of them is that invoice's, not a sale, and is
            # not kept (most charges of a subscription business).  Stripe's rate limit is what paces
            # the two listings, so reading one after the other costs no time.
            try:
                sold = sold_ids(invoices_read.result())
            except SourceError:
                sold = set()  # the invoices were not read in full: their charges are set aside below
            drop = (lambda ch: ch.id in sold or (ch.payment_intent in sold)) if sold else None
            keep: Listing[Any] = Listing(slim=True, drop=drop)
            try:
                return stripe.charges_in(a, b, pool, parts, on_page, keep)
            finally:
                sold.clear()  # a month of ids, not needed once the charges are read

        def read_referrals() -> Referrals:
            whole = False
            try:
                fp.all_rows("/referrals", {}, pool, on_page, into=referrals)
                whole = True
                return referrals
            finally:
                referrals.finish(whole)  # a diagnosis waiting for the rest of the listing stops waiting

        settled = read_at - TRACKING_DELAY  # paid later than this: FirstPromoter may not be done yet

        def collect(name: str, fut: Future[Any]) -> None:
            try:
                got[name] = fut.result()
            except PartialList as exc:
                got[name] = exc.rows
                failed.add(name)
                incomplete.append(str(exc))
            except SourceError as exc:  # nothing read
                failed.add(name)
                incomplete.append(f"{name}: {exc}")

        # the candidates' referral lookups are answered from the referrals read (known.py), even
        # while the listing is still being read
        token = KNOWN.set(referrals)
        diagnosing = deadline.DeadlinePool(max_workers=self.check_workers, thread_name_prefix="fpcheck-diagnose")
        diagnoses = _Diagnoses(self.engine, diagnosing, tick)
        try:
            with deadline.DeadlinePool(max_workers=LIST_WORKERS * 3, thread_name_prefix="fpcheck-sweep") as pool:
                jobs = {
                    "invoices": read_invoices,
                    "charges": read_charges,
                    "checkout_sessions": lambda: stripe.checkout_sessions_in(cs_a, b, pool, 1, on_page),
                    # every referral: one created years ago (or after the payment) may be this window's
                    # payer, so FirstPromoter's created_at filters cannot narrow this listing
                    "referrals": read_referrals,
                    "commissions": lambda: fp.all_rows(
                        "/commissions", {"filters[created_at][from]": since}, pool, on_page, commission_event),
                    # each row as the join needs it and as the promoter-campaign index holds it
                    "promoter_campaigns": lambda: fp.all_rows(
                        "/promoter_campaigns", {}, pool, on_page, lambda r: (campaign_coupons(r), fp.campaign(r))),
                }
                with deadline.DeadlinePool(max_workers=len(jobs), thread_name_prefix="fpcheck-list") as outer:
                    futures = {name: outer.submit(fn) for name, fn in jobs.items()}
                    for name, fut in futures.items():
                        if name != "referrals":
                            collect(name, fut)
                    listed = got.pop("promoter_campaigns", [])
                    got["promoter_campaigns"] = [c for c, _ in listed if c is not None]
                    self._offer_index(listed, "promoter_campaigns" not in failed, read_at, fp.per_page)
                    del listed
                    payments = _payments(got, failed, incomplete, (a, b))
                    if not failed and self.limit is None:
                        # everything but the referrals is in: diagnose each payment whose referral
                        # arrives while the rest of the listing is still being read (feed.py)
                        self._feed(Feed(payments, got["commissions"]), settled, diagnoses, referrals)
                    collect("referrals", futures["referrals"])
            fp_failed = bool(failed & {"referrals", "commissions", "promoter_campaigns"})
            joined = join(payments, referrals, got.get("commissions", []), got.get("promoter_campaigns", []))
            candidates = joined.candidates
            if fp_failed:
                # without every referral and commission, "no commission matches" would be a guess
                incomplete.append("no payment is called lost: FirstPromoter's listings were not read in full")
                candidates = []
                diagnoses.cancel()
            candidates.sort(key=lambda c: c.payment.paid_at, reverse=True)
            early = [c for c in candidates if c.payment.paid_at > settled]
            candidates = [c for c in candidates if c.payment.paid_at <= settled]
            if self.limit is not None and len(candidates) > self.limit:
                incomplete.append(f"diagnosed the newest {self.limit} of {len(candidates)} candidates (--limit)")
                candidates = candidates[: self.limit]
            for c in candidates:
                diagnoses.submit(c.payment)
            tick("check", 0, len(candidates))
            lost, too_early, cleared, calls = diagnoses.collect(candidates)
        finally:
            diagnosing.shutdown(wait=True, cancel_futures=True)
            KNOWN.reset(token)
        too_early = sorted([_early(c) for c in early] + too_early, key=lambda x: x.payment.paid_at, reverse=True)
        by_cause: dict[str, Cause] = {}
        for item in lost:
            c = by_cause.setdefault(item.verdict.check or "error", Cause())
            c.count += 1
            major = item.payment.amount / 10 ** money.exponent(item.payment.currency)
            if item.payment.currency.lower() == "usd":
                c.amount_usd = round(c.amount_usd + major, 2)
            else:
                cur = item.payment.currency.lower()
                c.other_currencies[cur] = round(c.other_currencies.get(cur, 0.0) + major, 2)
        by_cause = dict(sorted(by_cause.items(), key=lambda kv: (-kv[1].count, kv[0])))
        return SweepResult(
            window=window.to_json(),
            scanned={"payments": len(payments), "referral_payments": joined.referral_payments},
            lost=lost,
            by_cause=by_cause,
            partial=bool(incomplete),
            incomplete=incomplete,
            cleared=cleared,
            too_early=too_early,
            duration_ms=round((time.monotonic() - started) * 1000),
            calls={"stripe": stripe.calls + calls["stripe"], "firstpromoter": fp.calls + calls["firstpromoter"]},
        )

    def _offer_index(self, listed: list[tuple[Any, PromoterCampaign | None]], whole: bool, read_at: datetime,
                     per_page: int) -> None:
        """The promoter campaigns the sweep listed whole become the promoter-campaign index when it
        is cold or old (campaign_index.py), so the diagnoses do not list them again, each waiting
        for a FirstPromoter budget the referral listing is spending."""
        models = [pc for _, pc in listed]
        if not whole or any(pc is None for pc in models):
            return  # a listing that stopped, or a row the index cannot hold: the index reads its own
        try:
            self.engine.wiring.campaigns.offer(tuple(models), read_at, len(models) // per_page + 1)  # type: ignore[arg-type]
        except Exception as exc:  # the index's store (Redis, the cache directory): the diagnoses read it themselves
            log.warning("the promoter campaigns read could not be kept as the index (%s)", type(exc).__name__)

    @staticmethod
    def _feed(feed: Feed, settled: datetime, diagnoses: _Diagnoses, referrals: Referrals) -> None:
        """Start the diagnoses the feed finds ready as the referral pages arrive, until the listing
        ends (its reader always says so; each wait is short, the loop bounded by the sweep's deadline)."""
        seen = 0
        for _ in range(int(SWEEP_TOTAL_DEADLINE) + 60):
            emails, ended = referrals.emails_after(seen, timeout=1.0)
            if emails:
                seen = emails[-1][0]
            for p in feed.rows(emails):
                if p.paid_at <= settled:
                    diagnoses.submit(p)
            if ended:
                return


def _payments(got: dict[str, Any], failed: set[str], incomplete: list[str], window: tuple[int, int]) -> list[Payment]:
    """The window's payments from Stripe's listings, which are then let go (a month of objects:
    the payments hold what the join needs)."""
    invoices: Listing[Any] = got.pop("invoices", Listing())
    charges: Listing[Any] = got.pop("charges", Listing())
    sessions: Listing[StripeCheckoutSession] = got.pop("checkout_sessions", Listing())
    if "invoices" in failed and charges:
        # without every invoice of the window an invoice's charge would pass for a one-time sale
        incomplete.append("charges without an invoice were not considered: the invoices were not read in full")
        charges = Listing()
    return build_payments(invoices.items, charges.items, sessions.items,
                          {**invoices.customers, **charges.customers}, window=window)


class _Diagnoses:
    """The candidates' diagnoses, each started once (as soon as the feed finds it ready, or after
    the final join), each one's failure its own."""

    def __init__(self, engine: Engine, pool: deadline.DeadlinePool, tick: Progress) -> None:
        self.engine, self.pool, self.tick = engine, pool, tick
        self.futures: dict[str, Future[Report]] = {}

    def submit(self, p: Payment) -> None:
        if p.id in self.futures:
            return
        fut = self.pool.submit(self.engine.check, _query(p))
        fut.add_done_callback(lambda _: self.tick("check", 1, None))
        self.futures[p.id] = fut

    def cancel(self) -> None:
        for fut in self.futures.values():
            fut.cancel()

    def collect(self, candidates: list[Candidate]) -> tuple[list[Lost], list[Early], int, dict[str, int]]:
        calls = {"stripe": 0, "firstpromoter": 0}
        lost: list[Lost] = []
        early: list[Early] = []
        cleared = 0
        by_future = {self.futures[c.payment.id]: c for c in candidates}
        for fut in as_completed(by_future):
            c = by_future[fut]
            try:
                report = fut.result()
            except Exception as exc:  # one person's failure must not sink the sweep
                log.exception("diagnosis failed")
                report = None
                verdict = Verdict(status=Status.ERROR, check="error",
                                  summary=f"the diagnosis could not run ({type(exc).__name__}); see the log")
            else:
                for k in calls:
                    calls[k] += report.calls.get(k, 0)
                if report.verdict.status is Status.PASS:
                    cleared += 1
                    continue
                if _too_early(report):
                    early.append(_early(c))
                    continue
                v = report.verdict
                verdict = Verdict(status=v.status, check=_cause(v, report), summary=v.summary)
                if v.status is Status.ERROR:  # what could not be read, for whoever runs the sweep
                    log.warning("a candidate's diagnosis could not conclude: %s", "; ".join(
                        f"{r.id}: {r.summary}" for r in report.checks if r.status is Status.ERROR)[:1500])
            p = c.payment
            ref = c.referral or {}
            lost.append(Lost(
                query=_query(p).raw,
                payment=_payment_out(p),
                referral=ReferralOut(id=ref.get("id"), state=ref.get("state"), promoter=_promoter(ref)),
                verdict=verdict,
                matched_by=list(c.matched_by),
            ))
        lost.sort(key=lambda x: x.payment.paid_at, reverse=True)
        return lost, early, cleared, calls
