"""`fpcheck sweep` over loopback stand-ins: the join, windows and time zones, upstream faults, the faces."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.sweep_cli import cell, exit_code, summary_line, to_csv
from bot.sweep_demo import month_settings
from checks.query import QueryError
from checks.sweep.run import Sweeper
from checks.sweep.window import Window, parse_since, parse_window
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import API_ERROR, StripeStandIn

NOW = datetime.now(UTC)
MONTH = parse_since("31d", NOW)


@pytest.fixture(scope="module")
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn, dict[str, str]]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    truth = seed_month(stripe, fp, invoices=150, referrals=70, commissions=40, lost=12)
    with stripe, fp:
        yield stripe, fp, truth.lost


@pytest.fixture
def clean_month(month):  # type: ignore[no-untyped-def]
    stripe, fp, lost = month
    for s in (stripe, fp):
        s.clear_faults()
        s.reset_log()
    yield month
    for s in (stripe, fp):
        s.clear_faults()


def test_month_sweep_finds_every_lost_commission_with_its_cause_and_no_false_alarm(clean_month) -> None:
    stripe, fp, truth = clean_month
    result = Sweeper(month_settings(stripe, fp)).run(MONTH)
    assert {lo.payment.id: lo.verdict.check for lo in result.lost} == truth
    assert not result.partial and result.incomplete == []
    assert result.scanned == {"payments": 150, "referral_payments": 40 + 12}
    assert {k: c.count for k, c in result.by_cause.items()} == {
        "fp.referral": 4, "lead.uid": 2, "coupon.id": 2, "fp.commission": 2, "coupon.unique": 2}
    assert result.by_cause["lead.uid"].amount_usd == 58.0
    assert exit_code(result) == 1
    # read-only, and each listing read once: the diagnosis ran for the 12 candidates only
    assert stripe.writes() == [] and all(r.method == "GET" for r in fp.calls())
    assert len(fp.calls(path=r"/commissions$")) <= 1 + 3 + 12 * 2
    body = result.to_json_dict()
    assert set(body) >= {"schema_version", "window", "scanned", "lost", "by_cause"}
    assert body["schema_version"] == 1 and set(body["window"]) == {"from", "to"}
    one = body["lost"][0]
    assert set(one) >= {"query", "payment", "referral", "verdict"}
    assert set(one["payment"]) == {"id", "amount", "currency", "paid_at"}
    assert set(one["referral"]) == {"id", "state", "promoter"}
    assert set(one["verdict"]) == {"status", "check", "summary"}
    assert set(body["by_cause"]["lead.uid"]) >= {"count", "amount_usd"}
    line = summary_line(result, MONTH)
    assert line.startswith("31 days: 150 payments, 52 from referrals, 12 look lost, $")
    assert "4 × fp.referral" in line and "2 × lead.uid" in line


def _person_seed(stripe: StripeStandIn, fp: FirstPromoterStandIn, t: int) -> None:
    """One payment per way the join can find a person, none credited, plus a stranger and a credited sale."""
    seed_month(stripe, fp, invoices=2, referrals=2, commissions=1, lost=1, now=t)  # promoters and coupons
    paid = t - 3 * 86_400

    def invoice(cus: str, email: str, *, metadata: dict[str, str] | None = None,
                discount: tuple[str, str | None, int] | None = None) -> None:
        stripe.add_customer(cus, email, created=paid - 60, metadata=metadata)
        stripe.add_invoice(f"in_{cus[4:]}", cus, created=paid, subtotal=2900, discounts=(discount,) if discount else ())

    invoice("cus_JoinUid", "uid.payer@work.example")
    fp.add_referral("uid.person@home.example", uid="cus_JoinUid", created_at=paid - 86_400,
                    promoter_campaign_id=1001)
    invoice("cus_JoinFpUid", "fpuid.payer@work.example", metadata={"fp_uid": "user_42"})
    fp.add_referral("fpuid.person@home.example", uid="user_42", created_at=paid - 86_400, promoter_campaign_id=1001)
    invoice("cus_JoinEmail", "Email.Person@Example.com")
    fp.add_referral("email.person@example.com", created_at=paid - 86_400, promoter_campaign_id=1001)
    invoice("cus_JoinCoupon", "coupon.payer@example.com", discount=("ANA20", None, 580))
    invoice("cus_JoinStranger", "stranger@example.com")
    # a guest Checkout (payment mode, no customer) whose fp_tid came from a Payment Link
    stripe.add_payment_intent("pi_JoinGuest", None, 4900, created=paid, latest_charge="ch_JoinGuest")
    stripe.add_charge("ch_JoinGuest", None, 4900, created=paid, payment_intent="pi_JoinGuest",
                      billing_email="guest@example.com")
    stripe.add_checkout_session("cs_JoinGuest", created=paid - 30, amount_total=4900, email="guest@example.com",
                                payment_intent="pi_JoinGuest", client_reference_id="tid-guest-1",
                                payment_link="plink_JoinGuest")
    # a one-time sale FirstPromoter did credit (by its charge id)
    stripe.add_customer("cus_JoinPaid", "credited@example.com", created=paid - 60)
    stripe.add_payment_intent("pi_JoinPaid", "cus_JoinPaid", 9900, created=paid, latest_charge="ch_JoinPaid")
    stripe.add_charge("ch_JoinPaid", "cus_JoinPaid", 9900, created=paid, payment_intent="pi_JoinPaid")
    rid = fp.add_referral("credited@example.com", uid="cus_JoinPaid", state="active", created_at=paid - 86_400,
                          customer_since=paid + 60, promoter_campaign_id=1001)
    fp.add_commission("ch_JoinPaid", referral_id=rid, created_at=paid + 90)


def test_join_finds_people_by_uid_fp_uid_email_coupon_and_fp_tid() -> None:
    t = int(NOW.timestamp())
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    _person_seed(stripe, fp, t)
    with stripe, fp:
        result = Sweeper(month_settings(stripe, fp)).run(parse_since("7d", NOW))
    by_id = {lo.payment.id: lo for lo in result.lost}
    assert by_id["in_JoinUid"].matched_by == ["uid"]
    assert by_id["in_JoinFpUid"].matched_by == ["fp_uid"]
    assert by_id["in_JoinEmail"].matched_by == ["email"]
    assert by_id["in_JoinCoupon"].matched_by == ["coupon"]
    assert by_id["ch_JoinGuest"].matched_by == ["fp_tid"]
    assert by_id["ch_JoinGuest"].query == "guest@example.com"
    assert by_id["in_JoinUid"].referral.promoter == "Ana Promoter"
    # the stranger is not a candidate, and the credited one-time sale is not lost
    assert "in_JoinStranger" not in by_id and "ch_JoinPaid" not in by_id
    # the guest sale is one payment (its charge), not also its Checkout Session
    assert "cs_JoinGuest" not in by_id
    # 5 invoices and 2 one-time charges of ours, plus the newest of the 2 background invoices (the other
    # was paid 30 days ago, before the window)
    assert result.scanned["payments"] == 5 + 2 + 1


# ---------------------------------------------------------------------- windows and time zones


def test_since_and_dates_make_the_windows_a_person_means() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_window("7d", None, None, now=now) == Window(now - timedelta(days=7), now)
    assert parse_window("36h", None, None, now=now).label() == "36 hours"
    assert parse_window(None, None, None, now=now).span == timedelta(days=7)  # the default
    paris = ZoneInfo("Europe/Paris")
    w = parse_window(None, "2026-11-02", "2026-11-02", now=now, tz=paris)
    # a bare date is that whole day in FPCHECK_TZ (UTC+1 in November), end inclusive
    assert w.start == datetime(2026, 11, 1, 23, 0, tzinfo=UTC)
    assert w.end == datetime(2026, 11, 2, 22, 59, 59, 999999, tzinfo=UTC)
    assert w.to_json() == {"from": "2026-11-01T23:00:00Z", "to": "2026-11-02T22:59:59Z"}
    # the end is never in the future
    assert parse_window(None, "2026-11-20", "2026-12-31", now=now).end == now
    for args in (("7x", None, None), ("7d", "2026-11-01", None), (None, None, "2026-11-02"),
                 (None, "2026-11-05", "2026-11-01"), ("0d", None, None), ("200d", None, None),
                 (None, "yesterday", None), (None, "2026-01-01", "2026-11-01")):
        with pytest.raises(QueryError):
            parse_window(*args, now=now)


def test_a_payment_late_on_a_utc_day_belongs_to_the_next_day_in_paris() -> None:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    seed_month(stripe, fp, invoices=2, referrals=2, commissions=1, lost=1, now=datetime(2026, 10, 1, tzinfo=UTC).timestamp())
    at = int(datetime(2026, 11, 1, 23, 30, tzinfo=UTC).timestamp())  # 00:30 on Nov 2 in Paris
    stripe.add_customer("cus_LateNight", "late@example.com", created=at - 60)
    stripe.add_invoice("in_LateNight", "cus_LateNight", created=at, subtotal=2900)
    fp.add_referral("late@example.com", uid="cus_LateNight", promoter_campaign_id=1001, created_at=at - 86_400)
    now = datetime.now(UTC)
    with stripe, fp:
        settings = month_settings(stripe, fp)
        in_paris = parse_window(None, "2026-11-02", "2026-11-02", now=now, tz=ZoneInfo("Europe/Paris"))
        in_utc = parse_window(None, "2026-11-02", "2026-11-02", now=now, tz=UTC)
        assert [lo.payment.id for lo in Sweeper(settings).run(in_paris).lost] == ["in_LateNight"]
        assert Sweeper(settings).run(in_utc).scanned["payments"] == 0


# ---------------------------------------------------------------------- faults: partial, nothing invented


def test_stripe_charges_failing_leaves_a_partial_sweep_that_says_so(clean_month) -> None:
    stripe, fp, truth = clean_month
    stripe.inject(r"^/v1/charges$", status=500, body=API_ERROR)
    result = Sweeper(month_settings(stripe, fp)).run(MONTH)
    assert result.partial and any("listing charges" in r for r in result.incomplete)
    assert {lo.payment.id for lo in result.lost} == set(truth)  # the invoices were read in full
    assert exit_code(result) == 1


def test_stripe_invoices_failing_calls_nothing_lost_that_was_not_read(clean_month) -> None:
    stripe, fp, truth = clean_month
    stripe.inject(r"^/v1/invoices$", status=500, body=API_ERROR)
    result = Sweeper(month_settings(stripe, fp)).run(MONTH)
    assert result.partial and result.lost == [] and result.scanned["payments"] == 0
    assert any("listing paid invoices" in r and "500" in r for r in result.incomplete)
    assert any("charges without an invoice were not considered" in r for r in result.incomplete)
    assert "PARTIAL" in summary_line(result, MONTH)


def test_firstpromoter_commissions_failing_means_no_guess_at_what_is_lost(clean_month) -> None:
    stripe, fp, truth = clean_month
    fp.inject(r"/commissions$", status=503, body={"message": "down"})
    result = Sweeper(month_settings(stripe, fp)).run(MONTH)
    assert result.partial and result.lost == [] and result.by_cause == {}
    assert any("FirstPromoter's listings were not read in full" in r for r in result.incomplete)
    assert result.scanned["payments"] == 150
    assert exit_code(result) == 1


# ---------------------------------------------------------------------- faces


def test_csv_has_one_row_per_lost_payment_and_cannot_run_formulas(clean_month) -> None:
    stripe, fp, truth = clean_month
    result = Sweeper(month_settings(stripe, fp)).run(MONTH)
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert {r["payment_id"] for r in rows} == set(truth)
    assert all(r["amount"] in ("29.00", "23.20", "26.10") for r in rows)
    for evil in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx"):
        assert cell(evil) == "'" + evil
    assert cell("jane@example.com") == "jane@example.com" and cell(None) == ""


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "sweep", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_sweep_json_and_exit_codes(clean_month, tmp_path) -> None:
    import os

    stripe, fp, truth = clean_month
    s = month_settings(stripe, fp)
    env = {"PATH": os.environ["PATH"], "NO_PROXY": "127.0.0.1", "STRIPE_API_KEY": s.stripe_api_key.get_secret_value(),
           "STRIPE_API_BASE": s.stripe_api_base, "FIRSTPROMOTER_API_KEY": s.firstpromoter_api_key.get_secret_value(),
           "FIRSTPROMOTER_ACCOUNT_ID": s.firstpromoter_account_id, "FIRSTPROMOTER_API_BASE": s.firstpromoter_api_base,
           "FPCHECK_EXPECTED_STRIPE_ACCOUNT": s.fpcheck_expected_stripe_account or "",
           "FPCHECK_EXPECTED_STRIPE_MODE": "test", "STRIPE_SUPPRESS_NOTICES": "true"}
    got = _cli("--since", "31d", "--json", env=env)
    assert got.returncode == 1, got.stderr
    assert got.stderr == ""  # no progress bar when stderr is not a terminal
    body = json.loads(got.stdout)
    assert {lo["payment"]["id"] for lo in body["lost"]} == set(truth)
    quiet = _cli("--since", "1h", env=env)  # nothing was paid in the last hour
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("1 hours: 0 payments, 0 from referrals, none looks lost")
    for bad in (["--since", "7x"], ["--since", "7d", "--from", "2026-11-01"], ["--limit", "0"], ["--json", "--csv"]):
        got = _cli(*bad, env=env)
        assert got.returncode == 2 and got.stderr.startswith("fpcheck") and "Traceback" not in got.stderr
    bad_tz = _cli("--since", "7d", env={**env, "FPCHECK_TZ": "Mars/Olympus"})
    assert bad_tz.returncode == 2 and "FPCHECK_TZ" in bad_tz.stderr
