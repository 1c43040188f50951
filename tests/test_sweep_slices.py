"""A Stripe listing read in time slices that take over each other's unread ranges returns every
object of the range once, whatever the month looks like: invoices in a few busy stretches, many
in one second, empty slices.  Generated months over a loopback Stripe stand-in."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sweep_demo import month_settings
from checks.sweep import lists
from checks.sweep.lists import SweepStripe
from checks.wiring import Wiring
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.stripe_server import StripeStandIn

START = 1_790_000_000
SPAN = 40 * 86_400

# a busy stretch: where it starts (seconds into the range), how many invoices, how many a second
stretch = st.tuples(st.integers(0, SPAN - 1), st.integers(1, 320), st.integers(1, 12))


@pytest.fixture(autouse=True)
def cut_often(monkeypatch: pytest.MonkeyPatch) -> None:
    # cut at a page's worth and a minute's range, and look for a free slice every 10 ms: the small
    # months generated here go through many cuts and restarts (a month needs a few)
    monkeypatch.setattr(lists, "SPLIT_OBJECTS", 100)
    monkeypatch.setattr(lists, "MIN_SPLIT", 60)
    monkeypatch.setattr(lists, "SPLIT_POLL", 0.01)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(stretches=st.lists(stretch, min_size=1, max_size=4), parts=st.sampled_from([2, 3, 8]))
def test_every_invoice_of_the_range_is_read_once(stretches: list[tuple[int, int, int]], parts: int) -> None:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    inside: set[str] = set()
    n = 0
    for at, count, per_second in stretches:
        for k in range(count):
            created = at - 97 * (k // per_second)  # going back from `at`, `per_second` in each second
            n += 1
            cus, inv = f"cus_S{n:05d}", f"in_S{n:05d}"
            stripe.add_customer(cus, None, created=START - 10)
            stripe.add_invoice(inv, cus, created=START + created, paid_at=START + created, subtotal=500)
            if 0 <= created < SPAN:
                inside.add(inv)
    with stripe, fp:
        stripe.latency = 0.01  # slices are still reading when the first ones are done
        reader = Wiring(month_settings(stripe, fp)).stripe(SweepStripe)
        with ThreadPoolExecutor(max_workers=12) as pool:
            got = reader.paid_invoices(START, START + SPAN - 1, pool, parts)
    ids = [i.id for i in got.items]
    assert len(ids) == len(set(ids)), "an invoice was read twice"
    assert set(ids) == inside

