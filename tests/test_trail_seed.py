"""The sandbox scenarios shaped like real accounts hold, in the Stripe and FirstPromoter stand-ins,
what their stories say: read back through our readers over loopback HTTP (the rules are tested
elsewhere; this proves the demo shows what it claims)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from checks.sources.firstpromoter import FirstPromoterReader
from checks.sources.stripe import StripeReader
from sandbox import scenarios as sc
from sandbox.fp_seed import seed_firstpromoter
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.stripe_server import StripeStandIn

TRAIL = ("unknown-id", "uid-customer", "many-customers", "guest-checkout", "paid-before-referral",
         "coupon-no-referral", "fp-tid-no-referral", "yen-small", "exact-minimum", "renewal-missed",
         "restricted-key")


def stripe(api: StripeStandIn, key: str = sc.STRIPE_TEST_KEY) -> StripeReader:
    return StripeReader(key, api.url, timeout=3)


def ago(when: Any) -> float:
    """Days before now."""
    return (time.time() - when.timestamp()) / 86_400


def test_the_scenarios_are_listed_after_the_existing_ones() -> None:
    names = [s.name for s in sc.SCENARIOS]
    assert names[-len(TRAIL):] == list(TRAIL)
    assert len(set(names)) == len(names)


def test_unknown_id_is_nowhere(seeded: StripeStandIn) -> None:
    r = stripe(seeded)
    assert r.customer("cus_DoesNotExist123") is None
    assert r.invoices("cus_DoesNotExist123") == () and r.charges("cus_DoesNotExist123") == ()


def test_uid_customer_paid_under_another_email(seeded: StripeStandIn) -> None:
    r = stripe(seeded)
    s = sc.by_name("uid-customer")
    [own] = r.customers_by_email(s.email)
    assert own.id == s.stripe_customer_id and r.invoices(own.id) == () and r.charges(own.id) == ()
    assert s.referral_uid is not None
    other = r.customer(s.referral_uid, match="uid")
    assert other is not None and other.email == "jo.work@corp.example"
    [inv] = r.invoices(other.id)
    assert inv.id == s.commission_event_id and inv.status == "paid" and 1.9 < ago(inv.paid_at) < 2.1


def test_many_customers_only_the_oldest_paid(seeded: StripeStandIn) -> None:
    r = stripe(seeded)
    found = r.customers_by_email("many@example.com")
    assert len(found) == 7 and found.limits == ()
    assert found[-1].id == "cus_DemoMany000001"  # newest first: the payer comes last
    assert sorted(found, key=lambda c: c.created)[0].id == "cus_DemoMany000001"
    paid = {c.id for c in found if r.invoices(c.id)}
    assert paid == {"cus_DemoMany000001"}
    assert all(c.fp_uid is None for c in found) and r.customers_by_fp_uid("user_9001") == ()


def test_guest_checkout_has_no_customer(seeded: StripeStandIn) -> None:
    r = stripe(seeded)
    assert r.customers_by_email("guest@example.com") == ()
    [cs] = r.checkout_sessions("guest@example.com")
    assert (cs.guest, cs.mode, cs.status, cs.payment_status, cs.customer_creation, cs.amount_total) == (
        True, "payment", "complete", "paid", "if_required", 4900)
    assert cs.payment_intent is not None
    [ch] = r.charges_for_payment_intent(cs.payment_intent)
    assert (ch.customer, ch.billing_email, ch.status) == (None, "guest@example.com", "succeeded")
    assert ch.settlement is not None and (ch.settlement.amount, ch.settlement.currency) == (4900, "usd")


def test_one_time_amounts_and_their_settlement(seeded: StripeStandIn) -> None:
    r = stripe(seeded)
    [yen] = r.charges("cus_DemoYenSmall01")
    assert (yen.amount, yen.currency) == (60, "jpy") and r.invoices("cus_DemoYenSmall01") == ()
    assert yen.settlement is not None and (yen.settlement.amount, yen.settlement.currency) == (40, "usd")
    [fifty] = r.charges("cus_DemoFiftyCent1")
    assert (fifty.amount, fifty.currency) == (50, "usd")
    assert fifty.settlement is not None and fifty.settlement.amount == 50


def test_payments_carry_what_points_at_a_promoter(seeded: StripeStandIn) -> None:
    r = stripe(seeded)
    [inv] = r.invoices("cus_DemoCouponOnly1")
    [d] = inv.discounts
    assert d.promotion_code is not None and d.promotion_code.code == "PARTNER20"
    assert d.coupon is not None and d.coupon.id == "Z4OV52SU"
    assert sc.PROMOTER_CAMPAIGN_COUPONS[sc.PC_BEN] == "PARTNER20"
    [cs] = r.checkout_sessions("fp-tid@example.com")
    assert (cs.fp_tid, cs.customer, cs.mode, cs.guest) == ("tid_demo_8f2a", "cus_DemoFpTid00001", "subscription",
                                                           False)
    assert cs.invoice == r.invoices("cus_DemoFpTid00001")[0].id


def test_payment_before_referral_and_renewal(seeded: StripeStandIn) -> None:
    r = stripe(seeded)
    [early] = r.invoices("cus_DemoPaidBefore1")
    assert 4.9 < ago(early.paid_at) < 5.1
    renewal, first = r.invoices("cus_DemoRenewal001")
    assert (first.id, renewal.id) == ("in_DemoRenewal001", "in_DemoRenewal002")
    assert 34.9 < ago(first.paid_at) < 35.1 and 0.9 < ago(renewal.paid_at) < 1.1
    assert renewal.billing_reason == "subscription_cycle" and renewal.subscription_id == first.subscription_id


def test_restricted_key_reads_invoices_without_coupon_details(seeded: StripeStandIn) -> None:
    s = sc.by_name("restricted-key")
    assert s.env["STRIPE_API_KEY"] == sc.STRIPE_NOCOUPON_KEY
    r = stripe(seeded, sc.STRIPE_NOCOUPON_KEY)
    [inv] = r.invoices("cus_DemoRestrict01")
    assert inv.discounts[0].coupon is not None and inv.discounts[0].coupon.id == "ANA20"
    assert inv.discounts[0].coupon.percent_off is None  # not read
    assert any("rak_coupon_read" in note for note in r.invoices("cus_DemoRestrict01").limits)
    assert r.account().source == "permission_error"


@pytest.fixture(scope="module")
def fp() -> Any:
    standin = FirstPromoterStandIn()
    seed_firstpromoter(standin)
    with standin:
        yield standin


def test_firstpromoter_side(fp: FirstPromoterStandIn) -> None:
    r = FirstPromoterReader(sc.FP_API_KEY, sc.FP_ACCOUNT_ID, f"{fp.url}/api/v2/company", timeout=3)
    for name in ("unknown-id", "coupon-no-referral", "fp-tid-no-referral"):
        assert r.find_referral(sc.by_name(name).email).referral is None, name

    before = r.find_referral("paid-before@example.com").referral
    assert before is not None and (before.entry_source, before.uid, before.state) == ("manual_admin", None, "signup")
    assert before.created_at is not None and 1.9 < ago(before.created_at) < 2.1

    renewal = r.find_referral("renewal@example.com").referral
    assert renewal is not None and renewal.customer_since is not None and 39.9 < ago(renewal.customer_since) < 40.1
    [commission] = [c for c in r.commissions("renewal@example.com") if c.event_id and c.event_id.startswith("in_DemoRenewal")]
    assert commission.event_id == "in_DemoRenewal001" and commission.created_at is not None
    assert 34.9 < ago(commission.created_at) < 35.1

    uid = r.find_referral("uid-customer@example.com").referral
    assert uid is not None and uid.uid == "cus_DemoUidOther01" and uid.is_customer
