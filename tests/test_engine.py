"""The engine against the stand-ins when upstreams misbehave: every failure is a clear answer,
the checks that do not depend on the failed call still run, nothing is written, no secret leaks."""

from __future__ import annotations

import json

import pytest

from checks.engine import Engine
from checks.model import Report, Status
from checks.query import parse_query
from checks.settings import ConfigError, load_settings
from sandbox import scenarios as sc

SECRETS = (sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY, sc.STRIPE_RESTRICTED_KEY, sc.FP_API_KEY)
STRIPE_CHECKS = {"stripe.account", "stripe.mode", "lead.email", "payment.exists", "payment.amount", "payment.timing"}


def run(sandbox, email: str = "missing-commission@example.com", **overrides) -> Report:
    return Engine(sandbox.settings(**overrides)).check(parse_query(email))


def statuses(report: Report) -> dict[str, Status]:
    return {r.id: r.status for r in report.checks}


def assert_no_secret(report: Report) -> None:
    text = json.dumps(report.to_json_dict())
    for secret in SECRETS:
        assert secret not in text
        assert secret[8:] not in text  # nor the key's body without its prefix


def test_checks_only_read(clean_sandbox) -> None:
    for scenario in sc.SCENARIOS:
        Engine(clean_sandbox.scenario_settings(scenario)).check(parse_query(scenario.email))
    methods = {r.method for r in clean_sandbox.stripe.calls() + clean_sandbox.fp.calls()}
    assert methods == {"GET"}


def test_firstpromoter_500_errors_fp_checks_only(clean_sandbox) -> None:
    clean_sandbox.fp.inject(r"/referrals", status=500, body={"message": "Internal Server Error"})
    report = run(clean_sandbox)
    st = statuses(report)
    assert st["fp.referral"] is Status.ERROR
    referral = report.result("fp.referral")
    assert "FirstPromoter" in referral.summary and "500" in referral.summary
    for check in ("stripe.account", "stripe.mode", "payment.exists", "payment.amount", "payment.timing"):
        assert st[check] is Status.PASS, (check, report.result(check).summary)
    assert_no_secret(report)


def test_revoked_stripe_key_is_named_and_firstpromoter_checks_still_run(clean_sandbox) -> None:
    clean_sandbox.stripe.add_key("sk_test_revokedKey000000000000")
    clean_sandbox.stripe.revoke("sk_test_revokedKey000000000000")
    report = run(clean_sandbox, stripe_api_key="sk_test_revokedKey000000000000", stripe_other_mode_api_key=None)
    st = statuses(report)
    assert st["stripe.account"] is Status.ERROR
    assert "key" in report.result("stripe.account").summary.lower()
    assert st["fp.referral"] is Status.PASS
    assert "revokedKey" not in json.dumps(report.to_json_dict())


def test_stripe_timeout_is_bounded_and_explained(clean_sandbox) -> None:
    clean_sandbox.stripe.inject(r"/v1/invoices", delay=3.0)
    report = run(clean_sandbox, fpcheck_timeout=0.5)
    invoices = report.result("payment.exists")
    assert invoices.status is Status.ERROR
    assert "0.5" in invoices.summary or "time" in invoices.summary.lower()
    assert report.duration_ms < 3000
    assert statuses(report)["fp.referral"] is Status.PASS


def test_overall_deadline_bounds_the_run(clean_sandbox) -> None:
    clean_sandbox.fp.inject(r"/commissions", delay=2.0)
    report = run(clean_sandbox, fpcheck_timeout=5, fpcheck_deadline=0.8)
    assert report.result("fp.commission").status is Status.ERROR
    assert "deadline" in report.result("fp.commission").summary
    assert report.duration_ms < 1800
    assert statuses(report)["payment.amount"] is Status.PASS


def test_firstpromoter_429_is_retried_a_bounded_number_of_times(clean_sandbox) -> None:
    clean_sandbox.fp.inject(r"/commissions", status=429, body={"message": "Too many requests"})
    report = run(clean_sandbox, fpcheck_timeout=2)
    commission = report.result("fp.commission")
    assert commission.status is Status.ERROR and "429" in commission.summary
    assert 1 < len(clean_sandbox.fp.calls(path=r"/commissions")) <= 4


def test_stripe_500_once_is_retried_and_the_report_is_whole(clean_sandbox) -> None:
    clean_sandbox.stripe.inject(r"/v1/invoices", status=500, body={"error": {"type": "api_error"}}, times=1)
    report = run(clean_sandbox)
    assert statuses(report)["payment.exists"] is Status.PASS


def test_account_level_facts_are_cached_between_runs(clean_sandbox) -> None:
    engine = Engine(clean_sandbox.settings())
    first = engine.check(parse_query("healthy@example.com"))
    second = engine.check(parse_query("healthy@example.com"))
    assert second.calls["stripe"] < first.calls["stripe"]
    assert second.calls["firstpromoter"] < first.calls["firstpromoter"]
    assert statuses(first) == statuses(second)


def test_missing_configuration_is_one_line() -> None:
    with pytest.raises(ConfigError) as exc:
        Engine(load_settings(_env_file=None, stripe_api_key=None, firstpromoter_api_key=None))
    assert "STRIPE_API_KEY" in str(exc.value) and "\n" not in str(exc.value)


def test_restricted_read_only_key_gives_a_whole_report(clean_sandbox) -> None:
    report = run(clean_sandbox, email="healthy@example.com", stripe_api_key=sc.STRIPE_RESTRICTED_KEY)
    assert report.verdict.status is Status.PASS, report.verdict
    account = report.result("stripe.account")
    # /v1/account is refused to restricted keys; the account id comes out of Stripe's 403 message
    assert account.status is Status.PASS
    assert sc.STRIPE_ACCOUNT_ID in account.summary
    assert_no_secret(report)


def test_customers_past_the_read_limit_are_said_never_taken_for_no_payment(clean_sandbox) -> None:
    """23 Stripe customers share one email and only the oldest paid: fpcheck reads 20, says which
    it did not read, and does not report "no real payment"."""
    import time

    from checks.gather import MAX_CUSTOMERS

    now = int(time.time())
    email = "crowd@example.com"
    for i in range(23):
        clean_sandbox.stripe.add_customer(f"cus_Crowd{i:02d}", email, created=now - (30 - i) * 86_400)
    clean_sandbox.stripe.add_invoice("in_Crowd00", "cus_Crowd00", created=now - 29 * 86_400, subtotal=2900,
                                     paid_at=now - 29 * 86_400)
    clean_sandbox.fp.add_referral(email, promoter_campaign_id=sc.PC_ANA, created_at=now - 40 * 86_400)
    report = run(clean_sandbox, email)
    exists = report.result("payment.exists")
    assert exists.status is Status.WARN, exists.summary
    assert "No real payment" not in exists.summary
    not_read = [e.value for e in exists.evidence if e.label == "Not examined"]
    assert any(f"reads {MAX_CUSTOMERS} customers at most" in v and "cus_Crowd00" in v for v in not_read), not_read
    assert report.verdict.status is not Status.PASS


def test_a_long_invoice_history_reads_the_paid_ones_since_the_referral(clean_sandbox) -> None:
    """320 newer open invoices push the one paid invoice past the newest pages: fpcheck asks Stripe
    for the paid invoices since the referral was created, finds the payment, and says what it skipped."""
    import time

    now = int(time.time())
    email = "long-history@example.com"
    clean_sandbox.stripe.add_customer("cus_LongHist01", email, created=now - 500 * 86_400)
    clean_sandbox.stripe.add_invoice("in_LongHistPaid", "cus_LongHist01", created=now - 400 * 86_400,
                                     subtotal=2900, paid_at=now - 400 * 86_400)
    for i in range(320):
        clean_sandbox.stripe.add_invoice(f"in_LongHist{i:03d}", "cus_LongHist01", created=now - (i + 1) * 3600,
                                         status="open", subtotal=2900)
    clean_sandbox.fp.add_referral(email, promoter_campaign_id=sc.PC_ANA, created_at=now - 420 * 86_400)
    report = run(clean_sandbox, email)
    exists = report.result("payment.exists")
    assert exists.status is Status.PASS and "in_LongHistPaid" in exists.summary, exists.summary
    assert any("only the paid ones since" in e.value for e in exists.evidence if e.label == "Not examined")
    paid_reads = [r for r in clean_sandbox.stripe.calls() if r.path == "/v1/invoices" and r.param("status") == "paid"]
    assert len(paid_reads) == 1
