"""Issue 7's real-world shapes, as hand-built facts: each names the cause a careful person with both
dashboards would name, and no two checks contradict each other."""

from __future__ import annotations

from factories import (
    DAY,
    NOW,
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
    session,
)

from checks.facts import Fetch
from checks.model import Status, verdict_for
from checks.registry import run
from sandbox import scenarios as sc


def verdict(f):  # type: ignore[no-untyped-def]
    return verdict_for(run(f))


# 1. false all-clears ------------------------------------------------------------------------------


def test_unknown_customer_id_fails_and_names_the_likely_slips() -> None:
    f = facts(None, customer_id="cus_DoesNotExist123", customers=(), referral_=None)
    v = verdict(f)
    assert v.status is Status.FAIL and v.check == "fp.referral"
    assert "Nothing matches cus_DoesNotExist123" in v.summary
    r = results(f)["fp.referral"]
    assert "typo" in r.summary and "other mode" in r.summary and "spelling" in (r.remediation or "")


def test_duplicate_customers_with_missing_commission_fail_and_name_the_duplicates() -> None:
    f = facts(customers=(customer("cus_A"), customer("cus_B")), invoices=(invoice("in_A", "cus_A"),))
    out = results(f)
    assert out["lead.email"].status is Status.WARN
    assert out["fp.commission"].status is Status.FAIL and "2 Stripe customers share" in out["fp.commission"].summary
    v = verdict(f)
    assert v.status is Status.FAIL and v.check == "lead.email"


def test_exactly_50_cents_warns_and_commission_agrees() -> None:
    f = facts(**paid_customer(invoices=(invoice(total=50),)))
    out = results(f)
    assert out["payment.amount"].status is Status.WARN and "exactly $0.50" in out["payment.amount"].summary
    c = out["fp.commission"]
    assert c.status is Status.FAIL and "possibly because of its amount" in c.summary and "counts" not in c.summary
    assert verdict(f).check == "payment.amount"
    # the same payment, credited: the amount check no longer doubts it
    credited = facts(**paid_customer(invoices=(invoice(total=50),)), commissions=(commission("in_A"),))
    out = results(credited)
    assert out["payment.amount"].status is Status.PASS and out["fp.commission"].status is Status.PASS


def test_lead_email_never_claims_a_lead_without_a_referral() -> None:
    out = results(facts(**paid_customer(), referral_=None))
    assert out["lead.email"].status is Status.SKIP and "same email" not in out["lead.email"].summary


# 2. the customer the uid points to ------------------------------------------------------------------


def test_payments_of_the_uid_customer_are_the_persons_payments() -> None:
    ref = referral(uid="cus_W", state="active")
    f = facts(
        customers=(customer("cus_A"), customer("cus_W", "jo.work@corp.example", match="uid")),
        invoices=(invoice("in_W", "cus_W"),),
        referral_=ref,
        commissions=(commission("in_W"),),
    )
    out = results(f)
    assert out["payment.exists"].status is Status.PASS and "in_W" in out["payment.exists"].summary
    assert out["lead.uid"].status is Status.PASS
    assert out["fp.commission"].status is Status.PASS
    assert verdict(f).status is not Status.FAIL


# 3. no silent caps --------------------------------------------------------------------------------


def test_limits_are_said_and_not_examined_is_never_none() -> None:
    limited = Fetch.of((), limits=("read the newest 300 invoices of cus_A; older ones were not examined",))
    f = facts(customers=(customer(),), invoices=limited, charges=())
    r = results(f)["payment.exists"]
    assert r.status is Status.WARN and "not everything was read" in r.summary
    assert any(e.label == "Not examined" and "300 invoices" in e.value for e in r.evidence)


# 4. guest payments --------------------------------------------------------------------------------


def test_guest_checkout_payment_is_named_not_another_email() -> None:
    guest = charge("ch_G", customer=None, amount=4900, payment_intent="pi_G", ago=2 * DAY, settled=(4900, "usd"))  # type: ignore[arg-type]
    f = facts(customers=(), sessions=(session(),), guest_charges=(guest,))
    out = results(f)
    r = out["lead.email"]
    assert r.status is Status.FAIL and "paid as a guest" in r.summary and "cs_A" in r.summary
    assert "another email" not in r.summary
    assert "customer_creation" in (r.remediation or "") and "client_reference_id" in (r.remediation or "")
    assert out["payment.exists"].status is Status.PASS and "guest" in out["payment.exists"].summary
    assert out["payment.amount"].status is Status.PASS
    assert out["fp.commission"].status is Status.FAIL and out["fp.commission"].cause == "lead.email"
    assert verdict(f).check == "lead.email"


# 5. payments before the referral ------------------------------------------------------------------


def test_payment_before_the_referral_existed() -> None:
    ref = referral(created_ago=2 * DAY, entry_source="manual_admin")
    f = facts(**paid_customer(invoices=(invoice(paid_ago=5 * DAY),)), referral_=ref)
    out = results(f)
    r = out["payment.timing"]
    assert r.status is Status.FAIL and "before the FirstPromoter referral was created" in r.summary
    assert "Import Stripe Events" in (r.remediation or "") and "cus_A" in (r.remediation or "")
    assert out["fp.commission"].status is Status.FAIL and "check that Stripe" not in (out["fp.commission"].remediation or "")
    assert verdict(f).check == "payment.timing"


# 6. no referral is not "cookie tracking failed" ---------------------------------------------------


def test_no_referral_with_a_promotion_code_in_the_coupon_field_names_coupon_id() -> None:
    d = discount(coupon("Z4OV52SU"), promo("PARTNER20", "Z4OV52SU"))
    f = facts(**paid_customer(invoices=(invoice(discounts=(d,)),)), referral_=None)
    out = results(f)
    c = out["coupon.id"]
    assert c.status is Status.FAIL and "PARTNER20" in c.summary and "Z4OV52SU" in (c.remediation or "")
    assert out["fp.referral"].status is Status.FAIL and out["fp.referral"].cause == "coupon.id"
    assert verdict(f).check == "coupon.id"


def test_no_referral_with_fp_tid_blames_the_integration_as_a_likelihood() -> None:
    s = session("cs_T", customer="cus_A", metadata={"fp_tid": "tid_1"}, mode="subscription", invoice="in_A")
    f = facts(**paid_customer(), sessions=(s,), referral_=None)
    r = results(f)["fp.referral"]
    assert r.status is Status.FAIL and "fp_tid tid_1" in r.summary and "Most likely" in r.summary
    assert "never tracked" not in r.summary


def test_no_referral_with_a_promoters_coupon_id() -> None:
    d = discount(coupon("ANA20"))
    f = facts(**paid_customer(invoices=(invoice(discounts=(d,)),)), referral_=None, campaigns=sandbox_campaigns())
    out = results(f)
    assert out["coupon.id"].status is Status.PASS and "should have created a referral" in out["coupon.id"].summary
    assert out["fp.referral"].status is Status.FAIL and "coupon ANA20" in out["fp.referral"].summary


# 8. which commission belongs to which payment -----------------------------------------------------


def test_an_older_commission_does_not_cover_the_latest_payment() -> None:
    ref = referral(state="active", customer_since=NOW - 40 * DAY)
    old, new = invoice("in_Old", paid_ago=35 * DAY), invoice("in_New", paid_ago=DAY)
    f = facts(customers=(customer(),), invoices=(old, new), referral_=ref, commissions=(commission("in_Old"),))
    out = results(f)
    r = out["fp.commission"]
    assert r.status is Status.FAIL and "in_New" in r.summary and "earlier payments of the same customer" in r.summary
    # 9. the referral check does not say "nothing to fix" beside it
    assert "nothing to fix" not in out["fp.referral"].summary
    assert verdict(f).check == "fp.commission"


def test_commission_without_event_id_matched_by_date_and_amount_says_so() -> None:
    ref = referral()
    c = commission(None, created_ago=DAY - __import__("datetime").timedelta(hours=2), referral_id=ref.id)
    f = facts(**paid_customer(), referral_=ref, commissions=(c,))
    r = results(f)["fp.commission"]
    assert r.status is Status.PASS and "no event id matched" in r.summary


# 10. restricted keys ------------------------------------------------------------------------------


def test_invoice_coupon_details_unread_is_said_not_an_error() -> None:
    d = discount(coupon("ANA20", percent_off=None))
    limited = Fetch.of((invoice(discounts=(d,)),), limits=("the Stripe key lacks 'rak_coupon_read': coupon details on invoices were not read",))
    f = facts(customers=(customer(),), invoices=limited, commissions=(commission("in_A"),),
              campaigns=(promoter_campaign(sc.PC_ANA, "ANA20"),))
    out = results(f)
    assert not [r for r in out.values() if r.status is Status.ERROR]
    assert out["payment.amount"].status is Status.PASS
    assert any("rak_coupon_read" in e.value for e in out["coupon.id"].evidence)
    assert any("rak_coupon_read" in e.value for e in out["coupon.id"].evidence)
