"""Each sandbox scenario, as hand-built facts: exactly the check it names breaks (fail, or warn for
the timing and the email case/duplicate cases), and the healthy ones pass."""

from __future__ import annotations

import pytest
from factories import HTTP_ONLY, results, scenario_facts

from checks.model import Status, verdict_for
from checks.registry import run
from sandbox.scenarios import SCENARIOS

WARN_ONLY = {"case-variant", "duplicate-customers", "too-early", "many-customers", "exact-minimum"}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.breaks and s.name not in HTTP_ONLY], ids=lambda s: s.name)
def test_scenario_breaks_exactly_its_check(scenario) -> None:  # type: ignore[no-untyped-def]
    out = run(scenario_facts(scenario.name))
    by_id = {r.id: r for r in out}
    named = by_id[scenario.breaks]
    expected = Status.WARN if scenario.name in WARN_ONLY else Status.FAIL
    assert named.status is expected, (named.status, named.summary)
    assert named.remediation, "a failure or warning says what to do"
    failing = [r.id for r in out if r.status is Status.FAIL]
    if expected is Status.FAIL:
        # the cause fails first, or a symptom (no referral) fails first and names it
        assert failing[0] == scenario.breaks or by_id[failing[0]].cause == scenario.breaks, failing
        assert verdict_for(out).check == scenario.breaks
    else:
        # the warning is the likely cause; the missing commission (the symptom) fails and points at it
        assert failing in ([], ["fp.commission"]), failing
        if failing:
            assert by_id["fp.commission"].cause == scenario.breaks
            assert verdict_for(out).check == scenario.breaks
        warns = [r.id for r in out if r.status is Status.WARN]
        assert warns[0] == scenario.breaks, warns
    assert not [r for r in out if r.status is Status.ERROR]


@pytest.mark.parametrize("name", ["healthy", "one-time", "uid-customer"])
def test_healthy_scenarios_pass(name: str) -> None:
    out = results(scenario_facts(name))
    bad = [(r.id, r.status.value, r.summary) for r in out.values() if r.status not in (Status.PASS, Status.SKIP)]
    assert bad == []
    assert out["fp.commission"].status is Status.PASS
    assert out["fp.referral"].status is Status.PASS
    assert "is a FirstPromoter customer" in out["fp.referral"].summary
    assert all(r.remediation is None for r in out.values())


def test_every_outcome_says_what_was_verified() -> None:
    for s in SCENARIOS:
        if s.name in HTTP_ONLY:
            continue
        for r in run(scenario_facts(s.name)):
            assert r.summary.strip(), (s.name, r.id)
            if r.status in (Status.PASS, Status.SKIP):
                assert r.remediation is None, (s.name, r.id)


def test_scenario_key_words() -> None:
    """What users read in each broken case: ids, amounts, coupon names."""
    r = results(scenario_facts("wrong-account"))["stripe.account"]
    assert "acct_1OtherCompany999" in r.summary and "acct_1FpcheckSandbox01" in r.summary

    r = results(scenario_facts("live-only"))["stripe.mode"]
    assert "exists only in live mode" in r.summary and "cus_DemoLiveOnly01" in r.summary

    r = results(scenario_facts("no-referral"))["fp.referral"]
    assert "no-referral@example.com" in r.summary and "probably never tracked" in r.summary
    assert "Import Stripe Events" in (r.remediation or "") and "cus_DemoNoReferr01" in (r.remediation or "")

    r = results(scenario_facts("pending-referral"))["fp.referral"]
    assert "pending" in r.summary and "approve" in (r.remediation or "")

    r = results(scenario_facts("email-mismatch"))["lead.email"]
    assert "email-mismatch@example.com" in r.summary

    r = results(scenario_facts("case-variant"))["lead.email"]
    assert "Case@Example.com" in r.summary and "case@example.com" in r.summary

    r = results(scenario_facts("duplicate-customers"))["lead.email"]
    assert "cus_DemoDupePaid01" in r.summary and "in_DemoDupePaid01 $29.00" in r.summary
    assert "fp_uid user_7731" in r.summary and "cus_DemoDupeUid001" in r.summary

    r = results(scenario_facts("uid-mismatch"))["lead.uid"]
    assert "user_4821" in r.summary and "cus_DemoUidMism001" in r.summary
    assert "fp_uid" in (r.remediation or "") and "Import Stripe Events" in (r.remediation or "")

    r = results(scenario_facts("no-payment"))["payment.exists"]
    assert "invoice in_DemoNoPay0001 for $29.00 is open (not paid yet)" in r.summary

    r = results(scenario_facts("trial"))["payment.exists"]
    assert "sub_DemoTrial0001 trialing until 2026-12-09" in r.summary

    r = results(scenario_facts("full-coupon"))["payment.amount"]
    assert "FREE100" in r.summary and "Free forever" in r.summary and "$29.00" in r.summary

    r = results(scenario_facts("below-minimum"))["payment.amount"]
    assert "$0.40" in r.summary and "minimum" in r.summary

    r = results(scenario_facts("too-early"))["payment.timing"]
    assert "Too early" in r.summary and "12:02 UTC" in r.summary  # paid 11:59:40, +2 min, rounded up

    r = results(scenario_facts("promo-code-coupon"))["coupon.id"]
    assert "PARTNER20 is a promotion code; its Coupon id is Z4OV52SU" in r.summary
    assert "Z4OV52SU" in (r.remediation or "")

    r = results(scenario_facts("shared-coupon"))["coupon.unique"]
    assert "SHARED10" in r.summary and "Cleo Promoter" in r.summary and "Dan Promoter" in r.summary

    r = results(scenario_facts("missing-commission"))["fp.commission"]
    assert "in_DemoMissComm01" in r.summary and "Import Stripe Events" in (r.remediation or "")
