"""The rule ids are a contract; a fact that failed to read makes only the checks that need it error."""

from __future__ import annotations

from factories import customer, facts, invoice, paid_customer, results

from checks.facts import Fetch
from checks.model import Status
from checks.registry import all_checks, run

CONTRACT = [
    "stripe.account", "stripe.mode", "fp.referral", "lead.email", "lead.uid", "payment.exists",
    "payment.amount", "payment.timing", "coupon.id", "coupon.unique", "fp.commission",
]


def in_order(ids: list[str]) -> list[str]:
    """The contract's ids as they appear in `ids`: a check may be added anywhere, none renamed or moved."""
    return [i for i in ids if i in CONTRACT]


def test_ids_and_order_are_the_contract() -> None:
    rules = all_checks()
    assert in_order([r.id for r in rules]) == CONTRACT
    assert [r.order for r in rules] == list(range(10, 10 * len(rules) + 10, 10))
    assert all(r.title for r in rules)
    assert in_order([r.id for r in run(facts(**paid_customer()))]) == CONTRACT


def test_invoices_read_error_errors_payment_checks_only() -> None:
    reason = "Stripe answered 500 twice; gave up after 2.1 s"
    out = results(facts(customers=(customer(),), invoices=Fetch.failed(reason)))
    for check in ("payment.exists", "payment.amount", "payment.timing", "fp.commission", "coupon.id"):
        assert out[check].status is Status.ERROR, check
        assert reason in out[check].summary and "Stripe invoices" in out[check].summary
    assert out["fp.referral"].status is Status.PASS
    assert out["lead.email"].status is Status.PASS
    assert out["stripe.account"].status is Status.PASS


def test_a_skipped_fact_is_the_rules_call_not_an_error() -> None:
    f = facts(customers=(customer(),), invoices=Fetch.not_read("not asked for"), charges=())
    r = results(f)["payment.exists"]
    assert r.status is Status.SKIP and "not asked for" in r.summary


def test_nothing_read_at_all_never_crashes() -> None:
    bare = facts(customers=Fetch.not_read("no email"), referral_=Fetch.not_read("no email"),
                 campaigns=Fetch.not_read("x"), commissions=Fetch.not_read("x"),
                 account=Fetch.not_read("x"), key_mode=None)
    out = run(bare)
    assert in_order([r.id for r in out]) == CONTRACT
    assert not [r for r in out if r.status is Status.ERROR], [(r.id, r.summary) for r in out]
    assert all(r.summary for r in out)


def test_outcomes_never_carry_remediation_on_pass_or_skip() -> None:
    f = facts(customers=(customer(), customer("cus_B")), invoices=(invoice(),))
    for r in run(f):
        if r.status in (Status.PASS, Status.SKIP):
            assert r.remediation is None, r.id
        if r.status in (Status.FAIL, Status.WARN):
            assert r.remediation, r.id
