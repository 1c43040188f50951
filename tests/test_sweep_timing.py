"""`fpcheck sweep` over loopback stand-ins: a payment's time is when it was paid, a payment younger
than FirstPromoter's ~2 minutes is too early to tell, a payment made before its referral has its
own fix, and a Checkout Session's client_reference_id is a tid only on a Payment Link."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.sweep import breakdown_blocks, parent_text
from bot.sweep_cli import HINTS, exit_code, render, summary_line
from bot.sweep_demo import month_settings
from checks.sweep.lists import PAID_LOOKBACK, SESSION_LOOKBACK
from checks.sweep.run import Sweeper, SweepResult
from checks.sweep.window import Window, parse_since, parse_window
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import EdgeTruth, seed_edges, seed_month, seed_too_early
from sandbox.stripe_server import StripeStandIn


@dataclass
class Swept:
    stripe: StripeStandIn
    fp: FirstPromoterStandIn
    truth: EdgeTruth
    t: int  # when the shapes were seeded
    window: Window  # the last 7 days
    result: SweepResult


@pytest.fixture(scope="module")
def swept() -> Iterator[Swept]:
    t = int(time.time())
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    seed_month(stripe, fp, invoices=2, referrals=2, commissions=1, lost=1, now=t)  # promoters, coupons
    truth = seed_edges(stripe, fp, now=t)
    with stripe, fp:
        # swept at once: the 30-second-old payment must still be under 2 minutes old
        window = parse_since("7d", datetime.now(UTC))
        result = Sweeper(month_settings(stripe, fp)).run(window)
        yield Swept(stripe, fp, truth, t, window, result)


def _lost(result: SweepResult) -> dict[str, str | None]:
    return {lo.payment.id: lo.verdict.check for lo in result.lost}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_invoice_created_before_the_window_and_paid_inside_is_swept_with_its_discounts(swept: Swept) -> None:
    late = next(lo for lo in swept.result.lost if lo.payment.id == swept.truth.late_invoice)
    assert late.verdict.check == "coupon.id"  # its promotion code PARTNER20 was read
    assert "coupon" in late.matched_by and late.payment.paid_at == _iso(swept.t - 2 * 86_400)
    # its charge (made when it was paid, inside the window) is that invoice's, not a sale of its own
    assert "ch_EdgeLate" not in _lost(swept.result)
    # invoices were listed from the look-back before the window, sessions from a day before
    a = int(swept.window.start.timestamp())

    def lows(path: str) -> set[int]:
        return {int(v) for r in swept.stripe.calls(path=path) if (v := r.param("created[gte]"))}

    assert a - int(PAID_LOOKBACK.total_seconds()) in lows(r"^/v1/invoices$")
    assert a - int(SESSION_LOOKBACK.total_seconds()) in lows(r"^/v1/checkout/sessions$")


def test_an_invoice_created_inside_a_window_but_paid_after_it_is_not_that_windows(swept: Swept) -> None:
    now = datetime.fromtimestamp(swept.t, UTC)
    created_inside = parse_window(None, (now - timedelta(days=14)).isoformat(), (now - timedelta(days=8)).isoformat(),
                                  now=datetime.now(UTC))
    result = Sweeper(month_settings(swept.stripe, swept.fp)).run(created_inside)
    assert swept.truth.late_invoice not in _lost(result) and "ch_EdgeLate" not in _lost(result)
    assert result.too_early == []


def test_a_payment_30_seconds_old_is_too_early_to_tell_not_lost(swept: Swept) -> None:
    result, (early,) = swept.result, swept.truth.too_early
    assert [e.payment.id for e in result.too_early] == [early]
    assert early not in _lost(result)
    assert result.too_early[0].query == "edgeearly@example.com"
    # the terminal: the count and the id on the first line, and a section of its own
    line = summary_line(result, swept.window)
    assert line.endswith(f"; 1 too early to tell ({early})")
    text = render(result, swept.window, UTC)
    assert "Too early to tell: 1 payment" in text and f"edgeearly@example.com · {early}" in text
    # --json: an added key; the existing ones are all there
    body = result.to_json_dict()
    assert [e["payment"]["id"] for e in body["too_early"]] == [early]
    assert set(body) >= {"schema_version", "window", "scanned", "lost", "by_cause", "partial", "incomplete",
                         "cleared", "duration_ms", "calls"}
    # Slack (the digest and /fpcheck sweep post this line as the parent)
    assert f"1 too early to tell ({early})" in parent_text(result, swept.window, None)
    assert exit_code(result) == 1  # the other shapes are lost; a too-early one alone would not be


def test_too_early_alone_is_not_lost_and_json_lists_it(swept: Swept) -> None:
    s = month_settings(swept.stripe, swept.fp)
    env = {"PATH": os.environ["PATH"], "NO_PROXY": "127.0.0.1", "STRIPE_API_KEY": s.stripe_api_key.get_secret_value(),
           "STRIPE_API_BASE": s.stripe_api_base, "FIRSTPROMOTER_API_KEY": s.firstpromoter_api_key.get_secret_value(),
           "FIRSTPROMOTER_ACCOUNT_ID": s.firstpromoter_account_id, "FIRSTPROMOTER_API_BASE": s.firstpromoter_api_base,
           "FPCHECK_EXPECTED_STRIPE_ACCOUNT": s.fpcheck_expected_stripe_account or "",
           "FPCHECK_EXPECTED_STRIPE_MODE": "test", "STRIPE_SUPPRESS_NOTICES": "true"}
    fresh = seed_too_early(swept.stripe, swept.fp, "EdgeEarlyCli")  # paid 30 s ago
    # the last 45 s: only payments under 2 minutes old, so none can be called lost
    got = subprocess.run([sys.executable, "-m", "bot.cli", "sweep", "--from",
                          (datetime.now(UTC) - timedelta(seconds=45)).isoformat(), "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stderr  # nothing looks lost
    body = json.loads(got.stdout)
    assert body["lost"] == [] and body["by_cause"] == {} and body["partial"] is False
    early = {e["payment"]["id"]: e for e in body["too_early"]}
    assert fresh in early and set(early) <= {fresh, *swept.truth.too_early}
    assert early[fresh]["matched_by"] == ["uid", "email"] and early[fresh]["query"] == "edgeearlycli@example.com"


def test_a_payment_made_before_its_referral_is_payment_timing_with_the_import_fix(swept: Swept) -> None:
    result, before = swept.result, swept.truth.before_referral
    assert _lost(result)[before] == "payment.timing" and result.by_cause["payment.timing"].count == 1
    hint = HINTS["payment.timing"]
    assert "Import Stripe Events" in hint and "uid" in hint and "cus_" in hint
    # the terminal's row: the cause, the example, then that hint (the table wraps lines: compare words)
    flat = " ".join(render(result, swept.window, UTC).split())
    row = rf"payment\.timing 1 \$29\.00 paid\.first@example\.com · {before} · [^→]* → {re.escape(' '.join(hint.split()))}"
    assert re.search(row, flat), flat
    slack = next(b["text"]["text"] for b in breakdown_blocks(result) if "*payment.timing*" in b["text"]["text"])
    assert hint in slack
    for words in (hint, slack):  # never "wait": waiting cannot credit a payment made before the referral
        assert "later" not in words and "again" not in words and "minutes ago" not in words


def test_client_reference_id_is_a_tid_only_on_a_payment_link_session(swept: Swept) -> None:
    result, truth = swept.result, swept.truth
    by_id = {lo.payment.id: lo for lo in result.lost}
    # a shop's order number on an API-created session: not a tid, so a stranger's sale stays a stranger's
    assert truth.order_reference not in by_id
    assert truth.order_reference not in {e.payment.id for e in result.too_early}
    # the Payment Link's client_reference_id is FirstPromoter's tid
    assert by_id[truth.link_tid].matched_by == ["fp_tid"]
    # metadata.fp_tid is the tid, beside an order number; the session was created 3 h before the window
    # and paid 1 h into it: the sale is its charge, swept with the session's tid
    assert by_id[truth.api_tid].matched_by == ["fp_tid"]
    assert by_id[truth.api_tid].payment.paid_at == _iso(swept.t - 7 * 86_400 + 3600)
    # scanned: the month's newest invoice and the six shapes; all but the order's are a referral's
    assert result.scanned == {"payments": 1 + 6, "referral_payments": 1 + 5}
