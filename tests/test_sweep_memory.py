"""The sweep keeps what the join needs, not the month: slim rows read from Stripe's JSON, an
invoice's charges dropped as they arrive, the referrals in SQLite; its candidates' referral lookups
are answered from the referrals it read; a terminal sweep draws on the shared Redis budget.
Over loopback stand-ins seeded with a small month."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import redis

from bot.sweep_demo import month_settings
from checks.ratelimit import RedisLimiter
from checks.sources.firstpromoter import FirstPromoterReader
from checks.sweep.join import SlimCharge, SlimCustomer, SlimInvoice, build_payments, join
from checks.sweep.known import KNOWN, KnownFP, SweepEngine
from checks.sweep.lists import Listing, SweepFP, sold_ids
from checks.sweep.run import Sweeper
from checks.sweep.store import Referrals
from checks.sweep.window import parse_since
from checks.wiring import Wiring
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.scenarios import PC_ANA
from sandbox.stripe_server import StripeStandIn

NOW = datetime.now(UTC)
MONTH = parse_since("31d", NOW)


@pytest.fixture(scope="module")
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn, dict[str, str]]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    truth = seed_month(stripe, fp, invoices=60, referrals=30, commissions=12, lost=12)
    # people the referral lookups must tell apart: a case variant, a uid that is not a cus_ id
    fp.add_referral("Case.Variant@Example.com", id=990_001, uid="user_case", promoter_campaign_id=PC_ANA)
    fp.add_referral("app.user@example.com", id=990_002, uid="app_user_7", promoter_campaign_id=PC_ANA)
    with stripe, fp:
        yield stripe, fp, truth.lost


def _window() -> tuple[int, int]:
    return int(MONTH.start.timestamp()), int(MONTH.end.timestamp())


def test_slim_rows_give_the_payments_the_typed_facts_give(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, _ = month
    stripe, _ = Sweeper(month_settings(stripe_api, fp_api))._readers()
    a, b = _window()
    with ThreadPoolExecutor(max_workers=4) as pool:
        typed = (stripe.paid_invoices(a - 35 * 86_400, b, pool, 2), stripe.charges_in(a, b, pool, 2))
        slim = (stripe.paid_invoices(a - 35 * 86_400, b, pool, 2, keep=Listing(slim=True)),
                stripe.charges_in(a, b, pool, 2, keep=Listing(slim=True)))
        sessions = stripe.checkout_sessions_in(a, b, pool, 1)
    assert all(isinstance(i, SlimInvoice) for i in slim[0].items)
    assert all(isinstance(c, SlimCharge) for c in slim[1].items)
    assert slim[0].customers and all(isinstance(c, SlimCustomer) for c in slim[0].customers.values())

    def seen(invoices: Listing, charges: Listing) -> list[tuple]:  # type: ignore[type-arg]
        payments = build_payments(invoices.items, charges.items, sessions.items,
                                  {**invoices.customers, **charges.customers}, window=(a, b))
        return sorted((p.id, p.kind, p.amount, p.currency, p.paid_at, p.customer_id, p.email, p.fp_uid, p.fp_tid,
                       sorted(p.coupons), sorted(p.event_ids)) for p in payments)

    assert seen(*slim) == seen(*typed) and len(seen(*slim)) == 60
    # an invoice's charge is not kept once the invoices are read; the payments stay the same
    sold = sold_ids(slim[0])
    with ThreadPoolExecutor(max_workers=4) as pool:
        kept = stripe.charges_in(a, b, pool, 2, keep=Listing(slim=True, drop=lambda ch: ch.id in sold or (
            ch.payment_intent in sold)))
    assert len(typed[1]) >= 60 and len(kept) == 0
    assert seen(slim[0], kept) == seen(*typed)


def test_the_join_reads_the_same_people_from_the_referral_store(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, _ = month
    sweeper = Sweeper(month_settings(stripe_api, fp_api))
    stripe, fp = sweeper._readers()
    a, b = _window()
    store = Referrals()
    with ThreadPoolExecutor(max_workers=8) as pool:
        invoices = stripe.paid_invoices(a - 35 * 86_400, b, pool, 2, keep=Listing(slim=True))
        rows = fp.all_rows("/referrals", {}, pool)
        assert fp.all_rows("/referrals", {}, pool, into=store) is store
    assert len(store) == len(rows) == len(fp_api.referrals)
    payments = build_payments(invoices.items, [], [], invoices.customers, window=(a, b))
    from_rows, from_store = join(payments, rows, [], []), join(payments, store, [], [])
    assert from_rows.referral_payments == from_store.referral_payments > 0
    assert [(c.payment.id, c.matched_by, c.referral and c.referral["id"]) for c in from_rows.candidates] == [
        (c.payment.id, c.matched_by, c.referral and c.referral["id"]) for c in from_store.candidates]
    store.close()


def test_a_programme_of_referrals_is_held_outside_python_memory() -> None:
    store = Referrals()
    row = {"id": 0, "email": "", "uid": "", "state": "active", "created_at": "2026-01-01T00:00:00Z",
           "promoter_campaign": {"id": 7, "promoter": {"id": 3, "name": "Ana", "email": "ana@example.com"},
                                 "campaign": {"id": 1, "name": "Main"}}, "fraud_check": "no_suspicion"}
    tracemalloc.start()
    for page in range(200):  # 20,000 referrals
        store.add_page([{**row, "id": n, "email": f"p{n}@example.com", "uid": f"cus_{n:08d}"}
                        for n in range(page * 100, page * 100 + 100)])
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held < 4 * 2**20, held  # as dicts these rows would hold about 40 MB
    assert store.by_uid("cus_00012345")["id"] == 12345  # type: ignore[index]
    assert store.by_email(" P777@EXAMPLE.com ")["id"] == 777  # type: ignore[index]
    assert store.first("email", "P777@EXAMPLE.com") is None and store.by_uid("cus_x") is None
    store.close()


@pytest.mark.parametrize("email, uids", [
    ("member1@example.com", ()),  # a credited member: found by email
    ("case.variant@example.com", ()),  # only another letter case: FirstPromoter is asked
    ("nobody@example.com", ()),  # a miss: email, then the search
    ("nobody@example.com", ("cus_Month0000001", "app_user_7")),  # found by a uid after a miss
    (None, ("app_user_7",)),  # no email: by uid
    (None, ("user_none", "cus_none")),  # no email, no uid known: the search by the first uid
    ("app.user@example.com", ("cus_whatever",)),
])
def test_known_referral_lookups_answer_what_firstpromoter_answers(month, email, uids) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, _ = month
    settings = month_settings(stripe_api, fp_api)
    wiring = Wiring(settings)
    live = wiring.firstpromoter(FirstPromoterReader)
    store = Referrals()
    with ThreadPoolExecutor(max_workers=4) as pool:
        wiring.firstpromoter(SweepFP).all_rows("/referrals", {}, pool, into=store)
    store.finish(True)
    known = wiring.firstpromoter(KnownFP)
    known.known = store
    want = live.find_referral(email, uids)
    got = known.find_referral(email, uids)
    assert got == want
    case_variant = email == "case.variant@example.com"
    assert known.calls == (live.calls if case_variant else 0)
    store.close()


def test_candidates_make_no_referral_lookups_and_keep_their_causes(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, truth = month
    fp_api.reset_log()
    sweeper = Sweeper(month_settings(stripe_api, fp_api))
    assert isinstance(sweeper.engine, SweepEngine)
    result = sweeper.run(MONTH)
    assert not result.partial, result.incomplete
    assert {lo.payment.id: lo.verdict.check for lo in result.lost} == truth
    listed = [r for r in fp_api.calls() if r.param("page") and r.param("q") is None]
    lookups = [r for r in fp_api.calls() if "/referrals" in r.path and r not in listed]
    assert not lookups, [(r.path, r.query) for r in lookups]
    # every commission search is one candidate's own (the sweep lists only the window's commissions)
    searches = [r for r in fp_api.calls() if r.path.endswith("/commissions") and r.param("q")]
    assert len(searches) == len(result.lost) + result.cleared
    assert KNOWN.get() is None  # set only while the sweep's candidates are diagnosed


def test_a_terminal_sweep_draws_on_the_shared_redis_budget(month, redis_url) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, truth = month
    settings = month_settings(stripe_api, fp_api, fpcheck_redis_url=redis_url)
    sweeper = Sweeper(settings)  # as `fpcheck sweep` makes it: no engine of the bot's to share
    bot = Wiring(settings)  # what `fpcheck serve` builds from the same settings
    for mine, theirs in ((sweeper.engine.wiring.fp_limiter, bot.fp_limiter),
                         (sweeper.engine.wiring.stripe_limiter, bot.stripe_limiter)):
        assert isinstance(mine, RedisLimiter) and isinstance(theirs, RedisLimiter)
        assert mine.key == theirs.key
    client = redis.Redis.from_url(redis_url)
    fp_key = bot.fp_limiter.key  # type: ignore[attr-defined]
    assert not client.exists(fp_key)
    fp_api.reset_log()
    result = sweeper.run(MONTH)
    assert {lo.payment.id for lo in result.lost} == set(truth)
    # every FirstPromoter call the sweep sent was drawn from the shared budget (a minute's window:
    # the sweep's calls are all still in it), and Stripe's budget was drawn on too
    assert client.zcard(fp_key) == len(fp_api.calls()) > 0
    assert client.exists(bot.stripe_limiter.key)  # type: ignore[attr-defined]
