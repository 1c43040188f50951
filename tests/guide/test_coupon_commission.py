"""coupon.id, coupon.unique and fp.commission."""

from __future__ import annotations

from datetime import timedelta

from factories import (
    charge,
    commission,
    coupon,
    customer,
    discount,
    facts,
    invoice,
    paid_customer,
    promo,
    promoter_campaign,
    referral,
    results,
    sandbox_campaigns,
)

from checks.facts import Fetch, TrackingCoupon
from checks.model import Status
from sandbox.scenarios import PC_ANA, PC_BEN, PC_CLEO, PC_DAN

ANA20 = coupon("ANA20", name="Ana 20% off")


def with_discount(c, *, entry_source: str = "coupon", pc: int = PC_ANA, tracking=None, **kw):  # type: ignore[no-untyped-def]
    inv = invoice("in_D", total=2320, subtotal=2900, discounts=(discount(c),) if c else ())
    kw.setdefault("campaigns", sandbox_campaigns())
    return results(facts(
        customers=(customer(),), invoices=(inv,),
        referral_=referral(entry_source=entry_source, pc=pc),
        tracking=tracking if tracking is not None else TrackingCoupon(value="ANA20", coupon=ANA20),
        **kw,
    ))


# ---------------------------------------------------------------- coupon.id


def test_invoice_used_the_tracking_coupon_passes() -> None:
    r = with_discount(ANA20)["coupon.id"]
    assert r.status is Status.PASS
    assert "in_D" in r.summary and "ANA20" in r.summary and "Ana Promoter" in r.summary
    assert any(e.url and e.url.endswith("/test/coupons/ANA20") for e in r.evidence)


def test_invoice_used_another_coupon_fails_naming_both() -> None:
    r = with_discount(coupon("SUMMER", name="Summer sale"))["coupon.id"]
    assert r.status is Status.FAIL
    assert "SUMMER" in r.summary and "Summer sale" in r.summary and "ANA20" in r.summary
    assert r.remediation


def test_promotion_code_in_the_coupon_field_fails_with_the_coupon_id() -> None:
    p = promo("PARTNER20", "Z4OV52SU", id="promo_1P")
    tracking = TrackingCoupon(value="PARTNER20", coupon=None, promotion_codes=(p,))
    r = with_discount(coupon("Z4OV52SU"), pc=PC_BEN, tracking=tracking)["coupon.id"]
    assert r.status is Status.FAIL
    assert "PARTNER20 is a promotion code; its Coupon id is Z4OV52SU" in r.summary
    assert "Z4OV52SU" in r.remediation and "Coupon Code" in r.remediation


def test_unknown_tracking_value_fails() -> None:
    tracking = TrackingCoupon(value="ANA20", coupon=None)
    r = with_discount(ANA20, tracking=tracking)["coupon.id"]
    assert r.status is Status.FAIL and "neither a Coupon id nor a promotion code" in r.summary


def test_by_coupon_without_discount_checks_the_coupon_id_only() -> None:
    r = results(facts(**paid_customer(), referral_=referral(entry_source="coupon"),
                      tracking=TrackingCoupon(value="ANA20", coupon=ANA20)))["coupon.id"]
    assert r.status is Status.PASS and "no invoice carries a discount" in r.summary


def test_no_discount_and_not_by_coupon_skips() -> None:
    r = results(facts(**paid_customer()))["coupon.id"]
    assert r.status is Status.SKIP and "not in use" in r.summary


def test_cookie_referral_with_an_unrelated_discount_passes() -> None:
    r = with_discount(coupon("SUMMER"), entry_source="cookie")["coupon.id"]
    assert r.status is Status.PASS and "does not decide" in r.summary


def test_cookie_referral_with_another_promoters_coupon_warns() -> None:
    r = with_discount(coupon("PARTNER20"), entry_source="cookie")["coupon.id"]
    assert r.status is Status.WARN and "Ben Promoter" in r.summary


def test_cookie_referral_promotion_code_misconfiguration_only_warns() -> None:
    p = promo("PARTNER20", "Z4OV52SU")
    tracking = TrackingCoupon(value="PARTNER20", coupon=None, promotion_codes=(p,))
    r = with_discount(None, entry_source="cookie", pc=PC_BEN, tracking=tracking)["coupon.id"]
    assert r.status is Status.SKIP  # no discount, not by coupon: coupon tracking not in use
    r = with_discount(coupon("Z4OV52SU"), entry_source="cookie", pc=PC_BEN, tracking=tracking)["coupon.id"]
    assert r.status is Status.WARN and "Z4OV52SU" in r.summary


def test_campaign_without_coupon_but_referral_by_coupon_warns() -> None:
    campaigns = (promoter_campaign(PC_ANA, None),)
    r = with_discount(coupon("SUMMER"), campaigns=campaigns)["coupon.id"]
    assert r.status is Status.WARN and "no tracking coupon" in r.summary


def test_tracking_coupon_read_error_is_error() -> None:
    r = with_discount(ANA20, tracking=Fetch.failed("Stripe answered 500 (server error)"))["coupon.id"]
    assert r.status is Status.ERROR and "500" in r.summary


def test_tracking_coupon_without_permission_names_it_and_carries_on() -> None:
    refused = Fetch(error="the Stripe key lacks the 'rak_coupon_read' permission (403)", denied="rak_coupon_read")
    # the invoice used the tracking coupon: that proves it is a Coupon id
    r = with_discount(ANA20, tracking=refused)["coupon.id"]
    assert r.status is Status.PASS and any("rak_coupon_read" in e.value for e in r.evidence)
    other = with_discount(coupon("OTHER"), tracking=refused)["coupon.id"]
    assert other.status is Status.WARN and "rak_coupon_read" in other.summary


# ---------------------------------------------------------------- coupon.unique


def test_unique_coupon_passes() -> None:
    r = results(facts(**paid_customer()))["coupon.unique"]
    assert r.status is Status.PASS and "ANA20" in r.summary


def test_shared_coupon_fails_listing_the_others_case_insensitively() -> None:
    campaigns = sandbox_campaigns() + (promoter_campaign(1005, "shared10"),)
    out = results(facts(**paid_customer(), referral_=referral(pc=PC_CLEO, entry_source="coupon"), campaigns=campaigns))
    r = out["coupon.unique"]
    assert r.status is Status.FAIL
    assert "SHARED10" in r.summary and "3 promoter campaigns" in r.summary
    assert "Cleo Promoter" in r.summary and "Dan Promoter" in r.summary and "#1005" in r.summary
    assert f"#{PC_DAN}" in r.remediation


def test_shared_coupon_on_a_cookie_referral_only_warns() -> None:
    r = results(facts(**paid_customer(), referral_=referral(pc=PC_CLEO)))["coupon.unique"]
    assert r.status is Status.WARN and "SHARED10" in r.summary


def test_no_tracking_coupon_skips() -> None:
    campaigns = (promoter_campaign(PC_ANA, None),)
    r = results(facts(**paid_customer(), campaigns=campaigns))["coupon.unique"]
    assert r.status is Status.SKIP


# ---------------------------------------------------------------- fp.commission


def test_commission_on_the_invoice_passes() -> None:
    r = results(facts(**paid_customer(), commissions=(commission("in_A"),)))["fp.commission"]
    assert r.status is Status.PASS
    assert "#7001" in r.summary and "approved" in r.summary and "5.80" in r.summary and "in_A" in r.summary


def test_commission_on_the_charge_or_payment_intent_behind_an_invoice() -> None:
    inv = invoice(charge_ids=("ch_X",), payment_intent_ids=("pi_X",))
    for event in ("ch_X", "pi_X"):
        f = facts(customers=(customer(),), invoices=(inv,), charges=(charge("ch_X", payment_intent="pi_X"),),
                  commissions=(commission(event),))
        assert results(f)["fp.commission"].status is Status.PASS, event


def test_commission_on_a_one_time_charge() -> None:
    f = facts(customers=(customer(),), charges=(charge("ch_1"),), commissions=(commission("ch_1"),))
    assert results(f)["fp.commission"].status is Status.PASS


def test_missing_commission_fails_with_import_suggestion() -> None:
    f = facts(**paid_customer(), commissions=(commission("in_SomeoneElse", id=7999),))
    r = results(f)["fp.commission"]
    assert r.status is Status.FAIL and "in_A" in r.summary
    assert "Import Stripe Events" in r.remediation and "cus_A" in r.remediation and "Update" in r.remediation
    assert any("in_SomeoneElse" in e.value for e in r.evidence)


def test_no_commission_expected_yet_skips() -> None:
    recent = facts(customers=(customer(),), invoices=(invoice(paid_ago=timedelta(seconds=30)),))
    assert results(recent)["fp.commission"].status is Status.SKIP
    nothing = facts(customers=(customer(),), invoices=(invoice(status="open"),))
    assert results(nothing)["fp.commission"].status is Status.SKIP


def test_commissions_read_error_is_error() -> None:
    f = facts(**paid_customer(), commissions=Fetch.failed("FirstPromoter answered 429 (rate limited) three times"))
    r = results(f)["fp.commission"]
    assert r.status is Status.ERROR and "429" in r.summary
