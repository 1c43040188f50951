"""Every sandbox scenario, through the real engine and readers over loopback HTTP: the check the
scenario breaks is the one that fails (or warns), and the verdict names the first break."""

from __future__ import annotations

import pytest

from checks.engine import Engine
from checks.model import Status
from checks.query import parse_query
from sandbox.scenarios import SCENARIOS, by_name

# scenario -> (check, its status, the verdict's check)
EXPECTED = {
    "wrong-account": ("stripe.account", Status.FAIL, "stripe.account"),
    "live-only": ("stripe.mode", Status.FAIL, "stripe.mode"),
    "no-referral": ("fp.referral", Status.FAIL, "fp.referral"),
    "pending-referral": ("fp.referral", Status.FAIL, "fp.referral"),
    "email-mismatch": ("lead.email", Status.FAIL, "lead.email"),
    # a warning that is the likely cause of a missing commission: the symptom fails, the verdict names it
    "case-variant": ("lead.email", Status.WARN, "lead.email"),
    "duplicate-customers": ("lead.email", Status.WARN, "lead.email"),
    "uid-mismatch": ("lead.uid", Status.FAIL, "lead.uid"),
    "no-payment": ("payment.exists", Status.FAIL, "payment.exists"),
    "trial": ("payment.exists", Status.FAIL, "payment.exists"),
    "full-coupon": ("payment.amount", Status.FAIL, "payment.amount"),
    "below-minimum": ("payment.amount", Status.FAIL, "payment.amount"),
    "too-early": ("payment.timing", Status.WARN, None),
    "promo-code-coupon": ("coupon.id", Status.FAIL, "coupon.id"),
    "shared-coupon": ("coupon.unique", Status.FAIL, "coupon.unique"),
    "missing-commission": ("fp.commission", Status.FAIL, "fp.commission"),
    # shaped like real accounts: the person's whole trail
    "unknown-id": ("fp.referral", Status.FAIL, "fp.referral"),
    "many-customers": ("lead.email", Status.WARN, "lead.email"),
    "guest-checkout": ("lead.email", Status.FAIL, "lead.email"),
    "paid-before-referral": ("payment.timing", Status.FAIL, "payment.timing"),
    "coupon-no-referral": ("coupon.id", Status.FAIL, "coupon.id"),
    "fp-tid-no-referral": ("fp.referral", Status.FAIL, "fp.referral"),
    "yen-small": ("payment.amount", Status.FAIL, "payment.amount"),
    "exact-minimum": ("payment.amount", Status.WARN, "payment.amount"),
    "renewal-missed": ("fp.commission", Status.FAIL, "fp.commission"),
    # every documented state judged (checks/states.py)
    "commission-denied": ("fp.commission", Status.FAIL, "fp.commission"),
    "commission-fraud": ("fp.commission", Status.FAIL, "fp.commission"),
    "paid-out-of-band": ("payment.amount", Status.FAIL, "payment.amount"),
    "deleted-uid-customer": ("lead.uid", Status.FAIL, "lead.uid"),
    "paid-other-mode": ("stripe.mode", Status.FAIL, "stripe.mode"),
    "other-promoter-coupon": ("coupon.id", Status.WARN, "coupon.id"),
    "incomplete-subscription": ("payment.exists", Status.FAIL, "payment.exists"),
    "declined-payment": ("payment.exists", Status.FAIL, "payment.exists"),
    "checkout-expired": ("payment.exists", Status.FAIL, "payment.exists"),
}


def test_every_breaking_scenario_is_covered() -> None:
    breaking = {s.name for s in SCENARIOS if s.breaks}
    assert breaking == set(EXPECTED)
    assert {check for check, _, _ in EXPECTED.values()} == {
        "stripe.account", "stripe.mode", "fp.referral", "lead.email", "lead.uid", "payment.exists",
        "payment.amount", "payment.timing", "coupon.id", "coupon.unique", "fp.commission",
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_breaks_its_check(clean_sandbox, name: str) -> None:
    scenario = by_name(name)
    check, status, verdict_check = EXPECTED[name]
    report = Engine(clean_sandbox.scenario_settings(scenario)).check(parse_query(scenario.email))
    result = report.result(check)
    assert result is not None
    assert result.status is status, f"{check}: {result.status} {result.summary}"
    assert result.remediation, "a failure or warning says what to do"
    assert report.verdict.check == verdict_check, report.verdict
    if verdict_check:
        assert report.verdict.status is Status.FAIL
        first = next(r for r in report.checks if r.status is Status.FAIL)
        assert report.verdict.summary == first.summary
        if first.id != verdict_check:  # the symptom (missing commission, no referral) fails and names the cause
            assert first.cause == verdict_check, (first.id, first.cause)
            assert f"(see {check})" in report.verdict.summary
    assert not [r for r in report.checks if r.status is Status.ERROR], "no upstream error in the sandbox"


@pytest.mark.parametrize("name", ["healthy", "one-time", "uid-customer"])
def test_healthy_scenarios_pass(clean_sandbox, name: str) -> None:
    scenario = by_name(name)
    report = Engine(clean_sandbox.scenario_settings(scenario)).check(parse_query(scenario.email))
    bad = [(r.id, r.status.value, r.summary) for r in report.checks if r.status not in (Status.PASS, Status.SKIP)]
    assert bad == []
    assert report.verdict.status is Status.PASS and report.verdict.check is None
    assert report.result("fp.commission").status is Status.PASS


def test_restricted_key_names_the_missing_permission_and_carries_on(clean_sandbox) -> None:
    scenario = by_name("restricted-key")
    report = Engine(clean_sandbox.scenario_settings(scenario)).check(parse_query(scenario.email))
    assert report.verdict.check is None, report.verdict
    assert not [r for r in report.checks if r.status in (Status.FAIL, Status.ERROR)]
    assert report.result("fp.commission").status is Status.PASS
    said = " ".join([r.summary for r in report.checks] + [e.value for r in report.checks for e in r.evidence])
    assert "rak_coupon_read" in said


def test_query_by_stripe_customer_id_finds_the_same_story(clean_sandbox) -> None:
    report = Engine(clean_sandbox.settings()).check(parse_query("cus_DemoHealthy01"))
    assert report.verdict.status is Status.PASS, report.verdict
    assert report.result("fp.referral").status is Status.PASS
    assert any("healthy@example.com" in e.value for e in report.result("lead.email").evidence)


def test_unknown_email_is_a_clear_answer(clean_sandbox) -> None:
    report = Engine(clean_sandbox.settings()).check(parse_query("nobody-at-all@example.com"))
    referral = report.result("fp.referral")
    assert referral.status is Status.FAIL
    assert "Nothing matches nobody-at-all@example.com" in referral.summary
    assert report.verdict.check == "fp.referral"
    assert report.result("lead.email").status is Status.SKIP
    assert report.result("payment.exists").status is Status.SKIP
    assert not [r for r in report.checks if r.status is Status.ERROR]


def test_a_declined_payment_says_why_and_a_key_without_paymentintents_still_reports(clean_sandbox) -> None:
    scenario = by_name("declined-payment")
    report = Engine(clean_sandbox.scenario_settings(scenario)).check(parse_query(scenario.email))
    exists = report.result("payment.exists")
    assert "Your card has insufficient funds." in exists.summary and "needs a new payment method" in exists.summary

    key = "rk_test_fpcheckNoPaymentIntents0"
    clean_sandbox.stripe.add_key(key)
    clean_sandbox.stripe.restrict(key, "rak_payment_intent_read")
    report = Engine(clean_sandbox.scenario_settings(scenario, stripe_api_key=key)).check(parse_query(scenario.email))
    exists = report.result("payment.exists")
    assert exists.status is Status.FAIL and "is open (not paid yet)" in exists.summary
    assert not [r for r in report.checks if r.status is Status.ERROR]
    notes = [e.value for e in exists.evidence if e.label == "Not examined"]
    assert any("rak_payment_intent_read" in n for n in notes), exists.evidence


def test_a_deleted_customer_asked_about_by_id_is_named_as_deleted(clean_sandbox) -> None:
    report = Engine(clean_sandbox.settings()).check(parse_query("cus_DemoDeleted0001"))
    assert report.verdict.check == "lead.uid", report.verdict
    assert "names a Stripe customer that was deleted in Stripe" in report.verdict.summary
    assert "cus_DemoDelNew00001 pays now" in report.verdict.summary
    assert "see lead.uid" in report.result("fp.commission").summary
