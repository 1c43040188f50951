"""The sweep reads its listings into the engine's typed facts (checks/facts.py) through the engine's
parsers, and its payments derive from those objects: one payment model for the sweep, the watch
and a person's report.  Over loopback stand-ins seeded with a small month."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from bot.sweep_demo import month_settings
from checks.facts import StripeCharge, StripeCheckoutSession, StripeCustomer, StripeInvoice
from checks.sources.stripe import StripeReader
from checks.sweep.join import Payment, build_payments
from checks.sweep.run import Sweeper
from checks.sweep.window import parse_since
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import StripeStandIn

NOW = datetime.now(UTC)
MONTH = parse_since("31d", NOW)


@pytest.fixture(scope="module")
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    seed_month(stripe, fp, invoices=40, referrals=20, commissions=8, lost=4)
    with stripe, fp:
        yield stripe, fp


def test_listings_are_typed_facts_and_payments_derive_from_them(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api = month
    sweeper = Sweeper(month_settings(stripe_api, fp_api))
    stripe, _ = sweeper._readers()
    a, b = int(MONTH.start.timestamp()), int(MONTH.end.timestamp())
    with ThreadPoolExecutor(max_workers=4) as pool:
        invoices = stripe.paid_invoices(a - 35 * 86_400, b, pool, 2)
        charges = stripe.charges_in(a, b, pool, 2)
        sessions = stripe.checkout_sessions_in(a, b, pool, 1)
    assert len(invoices) >= 40 and all(isinstance(i, StripeInvoice) for i in invoices.items)
    assert all(isinstance(c, StripeCharge) for c in charges.items)
    assert all(isinstance(s, StripeCheckoutSession) for s in sessions.items)
    # each expanded customer is kept once, typed, by id
    assert invoices.customers and all(isinstance(c, StripeCustomer) and c.id == cid
                                      for cid, c in invoices.customers.items())
    payments = build_payments(invoices.items, charges.items, sessions.items,
                              {**invoices.customers, **charges.customers}, window=(a, b))
    assert len(payments) == 40 and all(isinstance(p, Payment) and p.kind == "invoice" for p in payments)
    p = payments[0]
    assert isinstance(p.sale, StripeInvoice)
    assert (p.id, p.amount, p.currency) == (p.sale.id, p.sale.amount_paid, p.sale.currency)
    assert p.paid_at == (p.sale.paid_at or p.sale.created) and p.customer == invoices.customers[p.sale.customer]
    assert p.event_ids == {p.sale.id, *p.sale.payment_intent_ids, *p.sale.charge_ids}
    # the engine's own reader reads the same invoice into the same fact
    engine_reader = sweeper.engine.wiring.stripe(StripeReader)
    theirs = next(i for i in engine_reader.invoices(p.sale.customer) if i.id == p.id)
    assert (theirs.amount_paid, theirs.paid_at, theirs.charge_ids, theirs.customer_email) == (
        p.sale.amount_paid, p.sale.paid_at, p.sale.charge_ids, p.sale.customer_email)


def test_an_object_the_parsers_cannot_read_makes_the_sweep_partial_not_a_crash(month) -> None:  # type: ignore[no-untyped-def]
    stripe_api, fp_api = month
    stripe_api.inject(r"^/v1/charges$", status=200,
                      body={"object": "list", "data": [{"id": "ch_NoAmount"}], "has_more": False, "url": "/v1/charges"})
    try:
        result = Sweeper(month_settings(stripe_api, fp_api)).run(MONTH)
    finally:
        stripe_api.clear_faults()
    assert result.partial
    assert any("listing charges" in r and "not in the expected shape" in r for r in result.incomplete), result.incomplete
    assert result.scanned["payments"] == 40  # the invoices were read in full
