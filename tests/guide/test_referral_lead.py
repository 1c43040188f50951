"""fp.referral, lead.email and lead.uid."""

from __future__ import annotations

import pytest
from factories import NOW, charge, customer, facts, invoice, paid_customer, referral, results

from checks.facts import Fetch
from checks.model import Status

# ---------------------------------------------------------------- fp.referral


def test_lead_passes_with_promoter_and_campaign() -> None:
    r = results(facts(**paid_customer()))["fp.referral"]
    assert r.status is Status.PASS
    assert "lead" in r.summary and "Ana Promoter" in r.summary and "Main Campaign" in r.summary
    values = {e.label: e.value for e in r.evidence}
    assert values["Promoter"] == "Ana Promoter <ana@promoters.example>"
    assert values["Campaign"] == "Main Campaign"
    assert values["State"] == "signup"


@pytest.mark.parametrize("state", ["pending", "denied", "moved", "disabled"])
def test_blocking_states_fail(state: str) -> None:
    r = results(facts(**paid_customer(), referral_=referral(state=state)))["fp.referral"]
    assert r.status is Status.FAIL
    assert state in r.summary
    assert "Import Stripe Events" in r.remediation and "cus_A" in r.remediation


def test_cancelled_customer_passes_and_leaves_the_latest_payment_to_fp_commission() -> None:
    ref = referral(state="cancelled", customer_since=NOW.replace(month=10))
    r = results(facts(**paid_customer(), referral_=ref))["fp.referral"]
    assert r.status is Status.PASS
    assert "is a FirstPromoter customer" in r.summary and "2026-10-25" in r.summary
    assert "earlier payment converted" in r.summary and "nothing to fix" not in r.summary


def test_undocumented_state_warns() -> None:
    r = results(facts(**paid_customer(), referral_=referral(state="subscribed")))["fp.referral"]
    assert r.status is Status.WARN and "subscribed" in r.summary


def test_no_referral_blames_tracking_not_stripe() -> None:
    out = results(facts(**paid_customer(), referral_=None))
    r = out["fp.referral"]
    assert r.status is Status.FAIL
    # nothing on the payment points elsewhere: a likelihood, never a certainty, and the spelling
    assert "a@example.com" in r.summary and "probably never tracked" in r.summary and "spelling" in r.summary
    assert "fp_tid" in r.remediation and "coupon" in r.remediation and "Import Stripe Events" in r.remediation
    assert out["lead.uid"].status is Status.SKIP
    assert out["fp.commission"].status is Status.SKIP


def test_referral_lookup_error_is_error_and_email_check_still_runs() -> None:
    out = results(facts(**paid_customer(), referral_=Fetch.failed("FirstPromoter answered 503")))
    assert out["fp.referral"].status is Status.ERROR and "503" in out["fp.referral"].summary
    assert out["lead.uid"].status is Status.ERROR
    assert out["lead.email"].status is Status.PASS
    assert any("could not be read" in e.value for e in out["lead.email"].evidence)


# ---------------------------------------------------------------- lead.email


def test_email_exact_match_passes() -> None:
    r = results(facts(**paid_customer()))["lead.email"]
    assert r.status is Status.PASS and "cus_A" in r.summary and "a@example.com" in r.summary
    assert any(e.url == "https://dashboard.stripe.com/acct_1FpcheckSandbox01/test/customers/cus_A" for e in r.evidence)


def test_email_compared_with_the_referrals_email_not_the_query() -> None:
    # support typed the email in another case; FirstPromoter and Stripe agree exactly
    f = facts("A@Example.com", customers=(customer(match="case_variant"),), invoices=(invoice(),),
              referral_=referral("a@example.com"))
    assert results(f)["lead.email"].status is Status.PASS


def test_case_variant_warns_naming_both_spellings() -> None:
    f = facts(customers=(customer(email="A@Example.COM", match="case_variant"),), invoices=(invoice(),))
    r = results(f)["lead.email"]
    assert r.status is Status.WARN
    assert "A@Example.COM" in r.summary and "a@example.com" in r.summary and "case" in r.summary


def test_no_customer_with_the_email_fails() -> None:
    out = results(facts(customers=()))
    r = out["lead.email"]
    assert r.status is Status.FAIL and "a@example.com" in r.summary
    assert "Import Stripe Events" in r.remediation
    assert out["payment.exists"].status is Status.SKIP


def test_customer_found_by_id_with_other_email_fails_showing_it() -> None:
    f = facts(customers=(customer("cus_B", "other@example.com", match="id"),), invoices=(invoice(customer="cus_B"),))
    r = results(f)["lead.email"]
    assert r.status is Status.FAIL and "other@example.com" in r.summary


def test_other_email_but_linked_by_fp_uid_only_warns() -> None:
    f = facts(customers=(customer("cus_B", "other@example.com", fp_uid="user_1", match="fp_uid"),),
              invoices=(invoice(customer="cus_B"),), referral_=referral(uid="user_1"))
    out = results(f)
    assert out["lead.email"].status is Status.WARN and "cus_B" in out["lead.email"].summary
    assert out["lead.uid"].status is Status.PASS


def test_duplicates_warn_showing_who_paid_and_who_has_fp_uid() -> None:
    f = facts(
        customers=(customer("cus_Paid"), customer("cus_Uid", fp_uid="user_9")),
        invoices=(invoice("in_Paid", "cus_Paid"),),
        charges=(charge("ch_Old", "cus_Uid", status="failed"),),
        referral_=referral(uid="user_9"),
    )
    r = results(f)["lead.email"]
    assert r.status is Status.WARN
    assert "2 Stripe customers" in r.summary
    assert "cus_Paid (paid in_Paid $29.00)" in r.summary
    assert "cus_Uid (no payment, carries fp_uid user_9)" in r.summary
    assert "fp_uid" in r.remediation and "cus_Paid" in r.remediation


def test_query_by_customer_id_without_referral_skips_email() -> None:
    f = facts(None, customer_id="cus_A", customers=(customer(match="id"),), invoices=(invoice(),), referral_=None)
    r = results(f)["lead.email"]
    # no referral, no lead email: nothing to compare, never "the same email as the lead"
    assert r.status is Status.SKIP and "no FirstPromoter referral" in r.summary
    assert any("a@example.com" in e.value for e in r.evidence)


def test_customers_read_error_is_error() -> None:
    out = results(facts(customers=Fetch.failed("Stripe answered 500 twice")))
    assert out["lead.email"].status is Status.ERROR
    assert out["stripe.mode"].status is Status.ERROR
    assert out["fp.referral"].status is Status.PASS


# ---------------------------------------------------------------- lead.uid


def test_uid_is_customer_id_passes() -> None:
    r = results(facts(**paid_customer(), referral_=referral(uid="cus_A")))["lead.uid"]
    assert r.status is Status.PASS and "cus_A" in r.summary


def test_uid_is_fp_uid_passes() -> None:
    f = facts(customers=(customer(fp_uid="user_1"),), invoices=(invoice(),), referral_=referral(uid="user_1"))
    r = results(f)["lead.uid"]
    assert r.status is Status.PASS and "fp_uid" in r.summary and "cus_A" in r.summary


def test_uid_mismatch_fails_showing_what_was_seen() -> None:
    f = facts(customers=(customer(fp_uid="user_2"),), invoices=(invoice(),), referral_=referral(uid="user_1"))
    r = results(f)["lead.uid"]
    assert r.status is Status.FAIL
    assert "user_1" in r.summary and "cus_A (fp_uid user_2)" in r.summary
    assert "fp_uid = user_1" in r.remediation and "Import Stripe Events" in r.remediation


def test_uid_compare_is_exact() -> None:
    f = facts(**paid_customer(), referral_=referral(uid="CUS_A"))
    assert results(f)["lead.uid"].status is Status.FAIL


def test_missing_uid_skips_saying_why() -> None:
    r = results(facts(**paid_customer()))["lead.uid"]
    assert r.status is Status.SKIP and "no uid" in r.summary


def test_uid_without_stripe_customer_skips() -> None:
    r = results(facts(customers=(), referral_=referral(uid="user_1")))["lead.uid"]
    assert r.status is Status.SKIP and "user_1" in r.summary
