"""The sweep on big programmes and flaky pages: whole results, no row cap, failed pages read again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.sweep_demo import month_settings
from checks.ratelimit import TokenBucket
from checks.sweep.run import Sweeper
from checks.sweep.window import parse_since
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import API_ERROR, StripeStandIn

MONTH = parse_since("31d", datetime.now(UTC))


def _fast(sweeper: Sweeper) -> Sweeper:
    """The test's stand-ins enforce no limit: a wide budget keeps 500 pages from taking minutes."""
    w = sweeper.engine.wiring
    w.stripe_limiter = TokenBucket(rate=2000.0, burst=200)
    w.fp_limiter = TokenBucket(rate=2000.0, burst=200)
    return sweeper


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn, dict[str, str]]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    # 50,100 referrals: past the 50,000 rows the sweep used to stop at; 100 of them lost a commission
    truth = seed_month(stripe, fp, invoices=300, referrals=50_100, commissions=100, lost=100)
    with stripe, fp:
        yield stripe, fp, truth.lost


def test_a_programme_of_50100_referrals_is_read_whole_and_every_lost_payment_found(big) -> None:
    stripe, fp, truth = big
    stripe.reset_log()
    fp.reset_log()
    result = _fast(Sweeper(month_settings(stripe, fp))).run(MONTH)
    assert not result.partial and result.incomplete == []
    assert {lo.payment.id for lo in result.lost} == set(truth)
    assert len(result.lost) == 100
    pages = [r for r in fp.calls(path=r"/referrals$") if r.param("per_page") == "100"]
    assert len(pages) >= 502  # every page, to the short last one


@pytest.fixture
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn, dict[str, str]]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    truth = seed_month(stripe, fp, invoices=150, referrals=70, commissions=40, lost=12)
    with stripe, fp:
        yield stripe, fp, truth.lost


def test_a_stripe_page_that_times_out_once_is_read_again(month) -> None:
    stripe, fp, truth = month
    stripe.inject(r"^/v1/invoices$", delay=2.0, times=1)  # longer than the 1 s timeout; Stripe's reader does not retry it
    result = _fast(Sweeper(month_settings(stripe, fp, fpcheck_timeout=1.0))).run(MONTH)
    assert not result.partial, result.incomplete
    assert {lo.payment.id for lo in result.lost} == set(truth)


def test_firstpromoter_pages_failing_past_the_readers_retries_are_read_again(month) -> None:
    stripe, fp, truth = month
    # a wave asks for 4 pages at once, each call tries 3 times (1 + 2 retries): 12 failures in a row
    # use up every attempt of the first wave's reader calls
    n = 4 * 3
    fp.inject(r"/referrals$", delay=2.0, times=n)
    fp.inject(r"/commissions$", status=503, body={"message": "down"}, times=n)
    fp.inject(r"/promoter_campaigns$", status=429, body={"message": "slow down"}, headers={"Retry-After": "1"},
              times=n)
    result = _fast(Sweeper(month_settings(stripe, fp, fpcheck_timeout=1.0))).run(MONTH)
    assert not result.partial, result.incomplete
    assert {lo.payment.id for lo in result.lost} == set(truth)


def test_a_page_that_never_answers_still_ends_partial_and_says_why(month) -> None:
    stripe, fp, truth = month
    stripe.inject(r"^/v1/charges$", status=500, body=API_ERROR)
    result = _fast(Sweeper(month_settings(stripe, fp))).run(MONTH)
    assert result.partial and any("listing charges" in r for r in result.incomplete)
    assert {lo.payment.id for lo in result.lost} == set(truth)
