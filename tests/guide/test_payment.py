"""payment.exists, payment.amount and payment.timing."""

from __future__ import annotations

from datetime import timedelta

from factories import (
    DAY,
    NOW,
    charge,
    coupon,
    customer,
    discount,
    facts,
    invoice,
    promo,
    results,
    subscription,
)

from checks.model import Status


def run_money(**kw):  # type: ignore[no-untyped-def]
    kw.setdefault("customers", (customer(),))
    return results(facts(**kw))


# ---------------------------------------------------------------- payment.exists


def test_paid_invoice_is_a_payment() -> None:
    r = run_money(invoices=(invoice(),))["payment.exists"]
    assert r.status is Status.PASS and "in_A" in r.summary and "$29.00" in r.summary
    assert r.evidence[0].url == "https://dashboard.stripe.com/acct_1FpcheckSandbox01/test/invoices/in_A"


def test_one_time_charge_is_a_payment() -> None:
    r = run_money(charges=(charge(),))["payment.exists"]
    assert r.status is Status.PASS and "ch_A" in r.summary
    assert r.evidence[0].url.endswith("/test/payments/ch_A")


def test_only_draft_open_void_fails_naming_them() -> None:
    out = run_money(invoices=(
        invoice("in_D", status="draft", total=1500),
        invoice("in_O", status="open", total=2900),
        invoice("in_V", status="void", total=900),
    ))
    r = out["payment.exists"]
    assert r.status is Status.FAIL
    assert "invoice in_D for $15.00 is a draft (not finalized)" in r.summary
    assert "invoice in_O for $29.00 is open (not paid yet)" in r.summary
    assert "invoice in_V for $9.00 is void (cancelled)" in r.summary
    assert "in_O" in r.remediation
    assert out["payment.amount"].status is Status.SKIP
    assert out["payment.timing"].status is Status.SKIP
    assert out["fp.commission"].status is Status.SKIP


def test_trial_zero_invoice_is_not_a_payment() -> None:
    r = run_money(
        invoices=(invoice("in_T", total=0, subscription="sub_T"),),
        subscriptions=(subscription("sub_T", status="trialing", trial_end=NOW + 14 * DAY),),
    )["payment.exists"]
    assert r.status is Status.FAIL
    assert "$0.00 trial invoice in_T" in r.summary and "sub_T trialing until 2026-12-09" in r.summary
    assert "2026-12-09" in r.remediation


def test_failed_and_pending_charges_are_not_payments() -> None:
    r = run_money(charges=(charge("ch_F", status="failed"), charge("ch_P", status="pending")))["payment.exists"]
    assert r.status is Status.FAIL
    assert "charge ch_F for $29.00 failed" in r.summary and "charge ch_P for $29.00 still pending" in r.summary


def test_authorised_but_uncaptured_charge_is_not_a_payment() -> None:
    held = charge("ch_H").model_copy(update={"amount_captured": 0})
    out = run_money(charges=(held,))
    assert out["payment.exists"].status is Status.FAIL
    assert "charge ch_H for $29.00 authorised but not captured" in out["payment.exists"].summary
    assert "capture" in out["payment.exists"].remediation.lower()
    assert out["payment.amount"].status is Status.SKIP


def test_nothing_at_all() -> None:
    r = run_money()["payment.exists"]
    assert r.status is Status.FAIL and "no invoices, charges or subscriptions" in r.summary
    assert r.remediation


def test_no_customer_skips_all_payment_checks() -> None:
    out = results(facts(customers=()))
    for check in ("payment.exists", "payment.amount", "payment.timing"):
        assert out[check].status is Status.SKIP, check


# ---------------------------------------------------------------- payment.amount


def test_usd_above_minimum_passes() -> None:
    r = run_money(invoices=(invoice(),))["payment.amount"]
    assert r.status is Status.PASS and "$29.00" in r.summary and "$0.50" in r.summary


def test_jpy_compared_in_dollars_through_the_settlement() -> None:
    ok = run_money(charges=(charge(amount=500, currency="jpy", settled=(334, "usd")),))["payment.amount"]
    assert ok.status is Status.PASS and "¥500" in ok.summary and "$3.34" in ok.summary
    # ¥60 is above Stripe's ¥50 minimum, but only $0.40: FirstPromoter does not track it
    low = run_money(charges=(charge(amount=60, currency="jpy", settled=(40, "usd")),))["payment.amount"]
    assert low.status is Status.FAIL and "¥60" in low.summary and "$0.40" in low.summary and "$0.50" in low.summary
    below_stripe = run_money(charges=(charge(amount=30, currency="jpy"),))["payment.amount"]
    assert below_stripe.status is Status.FAIL and "¥30" in below_stripe.summary and "¥50" in below_stripe.summary


def test_gbp_below_50_cents_fails_though_above_stripes_minimum() -> None:
    r = run_money(charges=(charge(amount=35, currency="gbp", settled=(44, "usd")),))["payment.amount"]
    assert r.status is Status.FAIL and "£0.35" in r.summary and "$0.44" in r.summary


def test_non_usd_without_a_dollar_amount_warns_never_passes() -> None:
    unread = charge(amount=1250, currency="eur", settlement_unread="the Stripe key lacks 'rak_balance_transaction_source_read'")
    r = run_money(charges=(unread,))["payment.amount"]
    assert r.status is Status.WARN and "cannot compare" in r.summary and "rak_balance_transaction_source_read" in r.summary
    eur_account = run_money(charges=(charge(amount=40, currency="gbp", settled=(46, "eur")),))["payment.amount"]
    assert eur_account.status is Status.WARN and "€0.46" in eur_account.summary
    # an invoice is compared through the charge that paid it
    inv = invoice(total=1250, currency="eur", charge_ids=("ch_A",))
    r = run_money(invoices=(inv,), charges=(charge(amount=1250, currency="eur", settled=(1361, "usd")),))["payment.amount"]
    assert r.status is Status.PASS and "$13.61" in r.summary


def test_unknown_currency_warns_honestly() -> None:
    r = run_money(invoices=(invoice(total=100000, currency="xyz"),))["payment.amount"]
    assert r.status is Status.WARN
    assert "1,000.00 XYZ" in r.summary and "cannot compare" in r.summary
    assert r.remediation


def test_exactly_fifty_cents_is_borderline() -> None:
    r = run_money(charges=(charge(amount=50),))["payment.amount"]
    assert r.status is Status.WARN and "$0.50" in r.summary


def test_full_coupon_names_coupon_and_promotion_code() -> None:
    free = coupon("FREE100", name="Launch gift", percent_off=100.0)
    code = promo("LAUNCH", "FREE100", id="promo_1Launch")
    out = run_money(invoices=(invoice("in_F", total=0, subtotal=4900, discounts=(discount(free, code),)),))
    assert out["payment.exists"].status is Status.PASS
    r = out["payment.amount"]
    assert r.status is Status.FAIL
    assert "FREE100" in r.summary and "Launch gift" in r.summary and "100% off" in r.summary
    assert "LAUNCH" in r.summary and "promo_1Launch" in r.summary and "$49.00" in r.summary
    urls = {e.url for e in r.evidence}
    assert "https://dashboard.stripe.com/acct_1FpcheckSandbox01/test/coupons/FREE100" in urls
    assert "https://dashboard.stripe.com/acct_1FpcheckSandbox01/test/promotion_codes/promo_1Launch" in urls


def test_amount_off_coupon_covering_the_subtotal() -> None:
    big = coupon("TAKE50", percent_off=None, amount_off=5000, currency="usd")
    r = run_money(invoices=(invoice(total=0, subtotal=2900, billing_reason="manual", discounts=(discount(big),)),))
    assert r["payment.amount"].status is Status.FAIL
    assert "TAKE50" in r["payment.amount"].summary and "$50.00 off" in r["payment.amount"].summary


def test_empty_invoice_fails() -> None:
    r = run_money(invoices=(invoice("in_E", total=0, billing_reason="manual"),))
    assert r["payment.exists"].status is Status.PASS
    assert r["payment.amount"].status is Status.FAIL and "empty" in r["payment.amount"].summary


def test_below_stripe_minimum_marked_paid_with_nothing_charged() -> None:
    r = run_money(invoices=(invoice("in_S", total=40, amount_paid=0),))["payment.amount"]
    assert r.status is Status.FAIL
    assert "$0.40" in r.summary and "minimum" in r.summary and "amount_paid 0" in r.summary


def test_paid_from_credit_balance() -> None:
    r = run_money(invoices=(invoice(total=2900, amount_paid=0, amount_due=0),))["payment.amount"]
    assert r.status is Status.FAIL and "credit balance" in r.summary


def test_refunded_charge_warns_net_of_refunds() -> None:
    r = run_money(charges=(charge("ch_R", refunded=2900),))["payment.amount"]
    assert r.status is Status.WARN and "$29.00 was refunded" in r.summary


def test_partly_refunded_charge_still_passes_showing_net() -> None:
    r = run_money(charges=(charge("ch_R", amount=5000, refunded=1000),))["payment.amount"]
    assert r.status is Status.PASS and "net $40.00" in r.summary


def test_invoice_refund_comes_from_its_charge() -> None:
    r = run_money(invoices=(invoice(charge_ids=("ch_I",)),), charges=(charge("ch_I", refunded=2900),))
    assert r["payment.amount"].status is Status.WARN
    assert "refunded" in r["payment.amount"].summary
    # the charge that paid the invoice is not a second payment
    assert "1 paid invoice and no one-time charges" in r["payment.exists"].summary


def test_several_invoices_latest_counting_payment_is_judged() -> None:
    out = run_money(invoices=(
        invoice("in_Old", total=1900, paid_ago=30 * DAY),
        invoice("in_New", total=2900, paid_ago=2 * DAY),
        invoice("in_Open", status="open"),
    ))
    r = out["payment.amount"]
    assert r.status is Status.PASS and "in_New" in r.summary and "2 payments" in r.summary
    assert "in_New" in out["payment.timing"].summary


def test_a_later_free_invoice_does_not_hide_an_earlier_real_payment() -> None:
    free = coupon("FREE100", percent_off=100.0)
    r = run_money(invoices=(
        invoice("in_Real", paid_ago=30 * DAY),
        invoice("in_Free", total=0, subtotal=2900, paid_ago=DAY, discounts=(discount(free),)),
    ))["payment.amount"]
    assert r.status is Status.PASS and "in_Real" in r.summary


def test_only_bad_payments_judges_the_latest() -> None:
    free = coupon("FREE100", percent_off=100.0)
    r = run_money(invoices=(
        invoice("in_Tiny", total=30, amount_paid=0, paid_ago=30 * DAY),
        invoice("in_Free", total=0, subtotal=2900, paid_ago=DAY, discounts=(discount(free),)),
    ))["payment.amount"]
    assert r.status is Status.FAIL and "in_Free" in r.summary and "FREE100" in r.summary


# ---------------------------------------------------------------- payment.timing


def test_old_payment_passes() -> None:
    r = run_money(invoices=(invoice(paid_ago=3 * DAY),))["payment.timing"]
    assert r.status is Status.PASS and "3 days ago" in r.summary


def test_too_early_says_when_to_run_again() -> None:
    r = run_money(invoices=(invoice(paid_ago=timedelta(seconds=45)),))["payment.timing"]
    assert r.status is Status.WARN
    assert "Too early" in r.summary and "45 s ago" in r.summary
    assert "Run again at 12:02 UTC" in r.summary  # paid 11:59:15, plus 2 minutes, rounded up
    assert "12:02 UTC" in r.remediation


def test_run_again_time_rounds_up_never_early() -> None:
    # paid 11:58:30 -> FirstPromoter may need until 12:00:30 -> say 12:01
    r = run_money(charges=(charge(ago=timedelta(seconds=90)),))["payment.timing"]
    assert r.status is Status.WARN and "12:01 UTC" in r.summary


def test_exactly_two_minutes_is_enough() -> None:
    r = run_money(charges=(charge(ago=timedelta(minutes=2)),))["payment.timing"]
    assert r.status is Status.PASS


def test_timing_skips_when_no_payment_counts() -> None:
    r = run_money(invoices=(invoice(total=40, amount_paid=0, paid_ago=timedelta(seconds=5)),))["payment.timing"]
    assert r.status is Status.SKIP and "payment.amount" in r.summary
