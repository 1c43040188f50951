"""stripe.account and stripe.mode."""

from __future__ import annotations

from factories import customer, facts, invoice, paid_customer, results

from checks.facts import Fetch, StripeAccount
from checks.model import Status


def test_account_matches_expected() -> None:
    r = results(facts(**paid_customer()))["stripe.account"]
    assert r.status is Status.PASS
    assert "acct_1FpcheckSandbox01" in r.summary and "Acme Analytics" in r.summary
    assert r.remediation is None
    assert r.evidence[0].url == "https://dashboard.stripe.com/acct_1FpcheckSandbox01/settings/account"


def test_account_differs_fails_naming_both() -> None:
    r = results(facts(expected_account="acct_1Other"))["stripe.account"]
    assert r.status is Status.FAIL
    assert "acct_1Other" in r.summary and "acct_1FpcheckSandbox01" in r.summary
    assert "Update" in r.remediation and "Account details" in r.remediation


def test_expected_account_unset_warns_and_says_where_to_compare() -> None:
    r = results(facts(expected_account=None))["stripe.account"]
    assert r.status is Status.WARN
    assert "acct_1FpcheckSandbox01" in r.summary and "Acme Analytics (sandbox)" in r.summary
    assert 'Settings → Integrations → "Integrations with third-parties" → "Update" under Stripe' in r.remediation
    assert "Settings → Account details → Account ID" in r.remediation
    assert "FPCHECK_EXPECTED_STRIPE_ACCOUNT" in r.remediation


def test_restricted_key_account_from_403_says_so() -> None:
    acct = StripeAccount(id="acct_1FpcheckSandbox01", source="permission_error")
    r = results(facts(account=acct))["stripe.account"]
    assert r.status is Status.PASS
    assert any("403" in e.value for e in r.evidence)


def test_account_read_error_is_an_error_with_the_reason() -> None:
    r = results(facts(account=Fetch.failed("Stripe answered 401 (the key was rejected)")))["stripe.account"]
    assert r.status is Status.ERROR
    assert "401" in r.summary


def test_mode_all_agree() -> None:
    r = results(facts(**paid_customer()))["stripe.mode"]
    assert r.status is Status.PASS and "test mode" in r.summary


def test_mode_key_vs_integration_mismatch_fails() -> None:
    r = results(facts(**paid_customer(), expected_mode="live"))["stripe.mode"]
    assert r.status is Status.FAIL
    assert "live mode" in r.summary and "test mode" in r.summary
    assert "STRIPE_API_KEY" in r.remediation


def test_mode_unset_warns() -> None:
    r = results(facts(**paid_customer(), expected_mode=None))["stripe.mode"]
    assert r.status is Status.WARN
    assert "test mode" in r.remediation and "FPCHECK_EXPECTED_STRIPE_MODE" in r.remediation


def test_customer_only_in_other_mode_fails() -> None:
    out = results(facts(customers=(), other_mode=(customer("cus_L", live=True),)))
    r = out["stripe.mode"]
    assert r.status is Status.FAIL
    assert "exists only in live mode" in r.summary and "cus_L" in r.summary
    assert any(e.url == "https://dashboard.stripe.com/acct_1FpcheckSandbox01/customers/cus_L" for e in r.evidence)
    # the email check points at the mode problem instead of repeating it
    assert out["lead.email"].status is Status.SKIP and "stripe.mode" in out["lead.email"].summary


def test_customer_only_in_test_mode_with_a_live_key() -> None:
    f = facts(customers=(), other_mode=(customer("cus_T", live=False),), key_mode="live", expected_mode="live")
    r = results(f)["stripe.mode"]
    assert r.status is Status.FAIL and "exists only in test mode" in r.summary


def test_customer_in_both_modes_passes_and_shows_both() -> None:
    f = facts(**paid_customer(), other_mode=(customer("cus_L", live=True),))
    r = results(f)["stripe.mode"]
    assert r.status is Status.PASS
    assert {"cus_A", "cus_L"} <= {e.value.split()[0] for e in r.evidence}


def test_object_in_other_mode_than_key_fails() -> None:
    f = facts(customers=(customer(),), invoices=(invoice(live=True),))
    r = results(f)["stripe.mode"]
    assert r.status is Status.FAIL and "in_A" in r.summary


def test_other_mode_read_error_is_evidence_not_failure() -> None:
    f = facts(**paid_customer(), other_mode=Fetch.failed("Stripe answered 429 three times"))
    r = results(f)["stripe.mode"]
    assert r.status is Status.PASS
    assert any("429" in e.value for e in r.evidence)
