"""A sweep diagnoses payments while FirstPromoter's referral listing is still being read, and says
only what the whole listing supports.  Over loopback stand-ins seeded with a small month whose
referral pages are slowed down (the listing that sets a big programme's pace)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from bot.sweep_demo import month_settings
from checks.sweep.known import KnownFP, answers_now
from checks.sweep.lists import SweepFP, SweepStripe, slices
from checks.sweep.run import Sweeper
from checks.sweep.store import Referrals
from checks.sweep.window import parse_since
from checks.wiring import Wiring
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import StripeStandIn

NOW = datetime.now(UTC)
MONTH = parse_since("31d", NOW)
LISTING = r"/api/v2/company/referrals$"  # the listing (and searches); lookups are /referrals/{value}
PAGE_DELAY = 1.0


@pytest.fixture
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn, dict[str, str]]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    # 1,000 referrals: 11 pages, three waves of four, each wave PAGE_DELAY slower
    truth = seed_month(stripe, fp, invoices=90, referrals=1000, commissions=20, lost=12)
    with stripe, fp:
        yield stripe, fp, truth.lost


def _diagnosis_reads(stripe: StripeStandIn) -> list[float]:
    """When Stripe was asked something other than the sweep's listing pages: the diagnoses."""
    return sorted(r.at for r in stripe.calls() if r.param("created[gte]") is None)


def test_diagnoses_start_while_referrals_are_listed_and_find_what_a_whole_read_finds(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, truth = month
    settings = month_settings(stripe_api, fp_api)
    whole = Sweeper(settings).run(MONTH)  # the referral listing fast: it ends before any diagnosis
    assert not whole.partial, whole.incomplete
    assert {lo.payment.id: lo.verdict.check for lo in whole.lost} == truth

    stripe_api.reset_log()
    fp_api.reset_log()
    fp_api.inject(LISTING, method="GET", delay=PAGE_DELAY)
    result = Sweeper(settings).run(MONTH)
    pages = sorted(r.at for r in fp_api.calls(path=LISTING) if r.param("q") is None)
    reads = _diagnosis_reads(stripe_api)
    # the first diagnoses read Stripe a whole wave of referral pages before the last wave was asked
    assert reads and reads[0] < pages[-1] - PAGE_DELAY / 2, (reads[:3], pages[-4:])
    assert not result.partial, result.incomplete
    # the same payments, the same causes, the same referral shown: nothing read early changes them
    assert [lo.model_dump() for lo in result.lost] == [lo.model_dump() for lo in whole.lost]
    assert result.cleared == whole.cleared and result.scanned == whole.scanned
    # and no referral was looked up live: the diagnoses read the sweep's rows, whole or not yet
    assert not [r for r in fp_api.calls() if r.path.startswith("/api/v2/company/referrals/")]


def test_a_listing_that_fails_after_diagnoses_started_calls_nothing_lost(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, _ = month
    fp_api.inject(LISTING, method="GET", delay=PAGE_DELAY)
    started = threading.Event()

    def refuse_later_pages() -> None:
        # once the first wave is in and diagnoses have begun, the key loses its access
        for _ in range(200):
            if _diagnosis_reads(stripe_api):
                break
            time.sleep(0.02)
        started.set()
        fp_api.clear_faults()
        fp_api.inject(LISTING, method="GET", status=403, body={"error": "revoked"})

    t = threading.Thread(target=refuse_later_pages, daemon=True)
    t.start()
    begun = time.monotonic()
    result = Sweeper(month_settings(stripe_api, fp_api)).run(MONTH)
    t.join(5)
    assert started.is_set() and _diagnosis_reads(stripe_api), "the diagnoses did not start before the failure"
    assert result.partial and result.lost == [] and result.cleared == 0
    assert any("referrals" in x for x in result.incomplete), result.incomplete
    assert any("no payment is called lost" in x for x in result.incomplete)
    assert time.monotonic() - begun < 60


def _listed(stripe: StripeStandIn, fp: FirstPromoterStandIn) -> Referrals:
    settings = month_settings(stripe, fp)
    store = Referrals()
    with ThreadPoolExecutor(max_workers=4) as pool:
        Wiring(settings).firstpromoter(SweepFP).all_rows("/referrals", {}, pool, into=store)
    return store


def test_a_lookup_in_a_listing_still_being_read(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, _ = month
    settings = month_settings(stripe_api, fp_api)
    fp_api.add_referral("late.one@example.com", id=990_100, uid="cus_late")
    whole = _listed(stripe_api, fp_api)
    keys, ended = whole.emails_after(0, timeout=0)
    assert ended is False and len(keys) == len(fp_api.referrals)  # not finished: nobody waits on it
    rows = [whole.first("email", email) for _, email in keys[:5]]
    store = Referrals()
    store.add_page(rows)  # type: ignore[arg-type]  # what the first page brought
    wiring = Wiring(settings)
    live = wiring.firstpromoter(KnownFP)
    held = rows[0]
    assert held is not None

    # an email the rows read so far hold: answered now, as FirstPromoter would, with no call
    known = wiring.firstpromoter(KnownFP)
    known.known = store
    assert answers_now(store, held["email"]) and not answers_now(store, "late.one@example.com")
    assert known.find_referral(held["email"]).referral.id == held["id"]  # type: ignore[union-attr]
    assert known.calls == 0

    # a lookup the rows read so far cannot answer waits for the rest of the listing, then answers
    answer: list = []  # type: ignore[type-arg]
    t = threading.Thread(target=lambda: answer.append(known.find_referral(None, ("cus_late",))))
    t.start()
    time.sleep(0.3)
    assert not answer  # still waiting: a miss in part of the listing is not a miss
    store.add_page([whole.first("uid", "cus_late")])  # type: ignore[list-item]
    store.finish(True)
    t.join(5)
    assert answer and answer[0] == live.find_referral(None, ("cus_late",))
    assert known.calls == 0

    # a listing that stopped part-way answers nothing: FirstPromoter itself is asked
    broken = Referrals()
    broken.add_page([held])
    broken.finish(False)
    asked = wiring.firstpromoter(KnownFP)
    asked.known = broken
    assert asked.find_referral("late.one@example.com").referral.uid == "cus_late"  # type: ignore[union-attr]
    assert asked.calls > 0
    for s in (whole, store, broken):
        s.close()


def test_a_billing_day_is_read_by_every_slice_and_each_invoice_once() -> None:
    """Most of a month's invoices on one day (calendar billing), a look-back with none: the slices
    that find nothing take over the busy one's unread part, and no invoice is lost or read twice,
    even where a page boundary falls among invoices created in the same second."""
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    seed_month(stripe, fp, invoices=2, referrals=2, commissions=1, lost=1)  # promoters, coupons
    day = int(MONTH.start.timestamp()) + 20 * 86_400
    made: set[str] = {i["id"] for i in stripe.data["test"].invoices.values()}
    for n in range(2400):
        # seven invoices a second, a second every minute going back: page boundaries and cuts
        # fall among invoices of one second
        at = day - 60 * (n // 7)
        cus = f"cus_Bill{n:05d}"
        stripe.add_customer(cus, f"bill{n}@example.com", created=at - 600)
        stripe.add_invoice(f"in_Bill{n:05d}", cus, created=at, paid_at=at, subtotal=1000)
        made.add(f"in_Bill{n:05d}")
    a, b = int(MONTH.start.timestamp()), int(MONTH.end.timestamp())
    with stripe, fp:
        stripe.latency = 0.03  # the busy slice is still being read when the empty ones are done
        reader = Wiring(month_settings(stripe, fp)).stripe(SweepStripe)
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = reader.paid_invoices(a - 35 * 86_400, b, pool, 4, keep=None)
        calls = stripe.calls(path="/v1/invoices$")
    asked = {(r.param("created[gte]"), r.param("created[lte]")) for r in calls}
    first = {(r.param("created[gte]"), r.param("created[lte]")) for r in calls if r.param("starting_after") is None}
    ids = [i.id for i in got.items]
    assert len(ids) == len(set(ids)), "an invoice was read twice"
    assert set(ids) == {i for i in made if stripe.data["test"].invoices[i]["created"] >= a - 35 * 86_400}
    assert len(asked) > 4  # the busy slice was cut: more ranges were asked for than the 4 slices
    # a cut: the older half [a, mid] read afresh, and the busy slice reading on from its oldest
    # second without a cursor, [mid + 1, oldest]
    initial = slices(a - 35 * 86_400, b, 4)
    ranges = {(int(lo), int(hi)) for lo, hi in first} - set(initial)
    tops = {hi for _, hi in initial}
    restarts = [(lo, hi) for lo, hi in ranges if hi not in tops and any(h + 1 == lo for _, h in ranges)]
    assert restarts, (sorted(ranges), initial, [(r.param("created[gte]"), r.param("created[lte]"), r.param("starting_after")) for r in calls])


def test_the_sweeps_campaign_listing_becomes_the_index_its_diagnoses_use(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api, truth = month
    sweeper = Sweeper(month_settings(stripe_api, fp_api))
    index = sweeper.engine.wiring.campaigns
    assert index.stored() is None  # cold: a new account
    result = sweeper.run(MONTH)
    assert {lo.payment.id: lo.verdict.check for lo in result.lost} == truth
    stored = index.stored()
    assert stored is not None and stored.complete
    assert sorted(pc.id for pc in stored.campaigns) == sorted(fp_api.promoter_campaigns)
    # the campaigns were listed once, by the sweep (one wave of pages): no diagnosis read them again
    pages = [r for r in fp_api.calls(path=r"/promoter_campaigns$")]
    assert 1 <= len(pages) <= 4 and all(r.param("page") in {"1", "2", "3", "4"} for r in pages)
    assert len({r.param("page") for r in pages}) == len(pages)
