"""Fixes planned from real reports and applied through the FirstPromoter stand-in's write routes,
over loopback HTTP with the real clients: what changes, what is refused, what a failure leaves."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from checks.engine import Engine
from checks.fix.apply import apply_plan
from checks.fix.diagnose import diagnose
from checks.fix.plan import FixKind, FixPlan, NoFix
from checks.fix.planner import plan_fix
from checks.fix.settings import writer_for
from checks.query import parse_query
from sandbox.runner import Sandbox
from sandbox.scenarios import FP_API_KEY, by_name


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(writes=True) as box:
        yield box


def plan_for(sb: Sandbox, name: str, **kw: Any) -> FixPlan | NoFix:
    s = by_name(name)
    report, facts = diagnose(Engine(sb.scenario_settings(s, fpcheck_timeout=1.0)), parse_query(s.email))
    return plan_fix(report, facts, actor="test", **kw)


def verdict(sb: Sandbox, name: str) -> tuple[str, str | None]:
    s = by_name(name)
    report = Engine(sb.scenario_settings(s)).check(parse_query(s.email))
    return report.verdict.status.value, report.verdict.check


def commission_status(sb: Sandbox, name: str) -> str:
    s = by_name(name)
    result = Engine(sb.scenario_settings(s)).check(parse_query(s.email)).result("fp.commission")
    assert result is not None
    return result.status.value


def apply(sb: Sandbox, plan: FixPlan) -> Any:
    writer = writer_for(sb.settings(fpcheck_timeout=1.0))
    try:
        return apply_plan(plan, writer, batch_wait=2.0, poll=0.05)
    finally:
        writer.close()


def writes(sb: Sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path.removeprefix("/api/v2/company")) for r in sb.fp.calls() if r.method != "GET"]


@pytest.mark.parametrize("name, kind", [
    ("uid-mismatch", FixKind.SET_UID), ("case-variant", FixKind.SET_UID), ("duplicate-customers", FixKind.SET_UID),
    ("many-customers", FixKind.SET_UID), ("deleted-uid-customer", FixKind.SET_UID),
    ("paid-before-referral", FixKind.SET_UID), ("missing-commission", FixKind.IMPORT),
    ("renewal-missed", FixKind.IMPORT), ("guest-checkout", FixKind.COMMISSION),
])
def test_a_fixable_report_is_repaired_and_the_recheck_passes(sb: Sandbox, name: str, kind: FixKind) -> None:
    plan = plan_for(sb, name)
    assert isinstance(plan, FixPlan) and plan.kind is kind
    assert writes(sb) == []  # planning only reads
    result = apply(sb, plan)
    assert result.outcome == "applied", result.summary
    if kind is FixKind.COMMISSION:  # credited; the checkout itself still creates no customer: a warning
        assert commission_status(sb, name) == "pass"
        assert verdict(sb, name) == ("warn", None)
    else:
        assert verdict(sb, name) == ("pass", None)


@pytest.mark.parametrize("name", ["wrong-account", "live-only", "pending-referral", "trial", "full-coupon",
                                  "below-minimum", "shared-coupon", "commission-denied", "too-early",
                                  "email-mismatch", "other-promoter-coupon", "healthy"])
def test_what_stays_manual_gets_no_plan_and_a_reason(sb: Sandbox, name: str) -> None:
    plan = plan_for(sb, name)
    assert isinstance(plan, NoFix) and plan.reason


def test_set_uid_plan_says_before_and_after_and_the_calls(sb: Sandbox) -> None:
    plan = plan_for(sb, "uid-mismatch")
    assert isinstance(plan, FixPlan)
    assert [(c.before, c.after) for c in plan.changes][0] == ("user_4821", "cus_DemoUidMism001")
    assert [c.line for c in plan.calls] == ["PUT /referrals/5009", "POST /referrals/5009/import_events"]
    result = apply(sb, plan)
    assert writes(sb) == [("PUT", "/referrals/5009"), ("POST", "/referrals/5009/import_events")]
    assert [s.call for s in result.steps][:2] == ["PUT /referrals/5009", "POST /referrals/5009/import_events"]
    assert sb.fp.referrals[5009].uid == "cus_DemoUidMism001" and sb.fp.referrals[5009].customer_since is not None


def test_an_import_is_followed_until_its_batch_completes(sb: Sandbox) -> None:
    assert sb.writes is not None
    sb.writes.import_seconds = 0.3
    result = apply(sb, plan_for(sb, "missing-commission"))
    assert result.outcome == "applied" and "completed" in result.summary
    assert any(s.call.startswith("GET /batch_processes/") and s.answer["status"] == "completed" for s in result.steps)


def test_a_coupon_fix_changes_the_campaign_and_lists_the_sales_already_lost(sb: Sandbox) -> None:
    plan = plan_for(sb, "promo-code-coupon")
    assert isinstance(plan, FixPlan) and plan.kind is FixKind.COUPON
    assert plan.changes[0].before == "PARTNER20" and plan.changes[0].after == "Z4OV52SU"
    assert any("future sales" in n for n in plan.notes) and plan.sales and "in_DemoPromoCode1" in plan.sales[0]
    assert apply(sb, plan).outcome == "applied"
    assert sb.fp.promoter_campaigns[1002].coupon == "Z4OV52SU"


def test_a_guest_commission_names_the_payment_and_why(sb: Sandbox) -> None:
    plan = plan_for(sb, "guest-checkout")
    assert isinstance(plan, FixPlan)
    body = plan.calls[0].body or {}
    assert body["commission_type"] == "sale" and body["event_id"] == "ch_DemoGuest01" and body["sale_amount"] == 4900
    assert "test" in body["internal_note"] and "guest" in body["internal_note"]
    apply(sb, plan)
    made = [c for c in sb.fp.commissions.values() if c.event_id == "ch_DemoGuest01"]
    assert len(made) == 1 and made[0].internal_note == body["internal_note"]


def test_a_commission_that_appeared_meanwhile_makes_the_plan_stale(sb: Sandbox) -> None:
    plan = plan_for(sb, "guest-checkout")
    assert isinstance(plan, FixPlan)
    sb.fp.add_commission("ch_DemoGuest01", referral_id=5029)  # someone added it by hand
    result = apply(sb, plan)
    assert result.outcome == "stale" and "ch_DemoGuest01" in result.summary
    assert writes(sb) == []


def test_a_uid_changed_since_the_plan_is_refused_with_what_changed(sb: Sandbox) -> None:
    plan = plan_for(sb, "uid-mismatch")
    assert isinstance(plan, FixPlan)
    sb.fp.referrals[5009].uid = "user_9999"
    result = apply(sb, plan)
    assert result.outcome == "stale" and "user_9999" in result.summary and writes(sb) == []


def test_several_payers_need_a_person_to_pick(sb: Sandbox) -> None:
    # the second customer with the email pays too: either could be the referral's
    sb.stripe.add_invoice("in_DupeSecond01", "cus_DemoDupeUid01", created=int(sb.seeded_at) - 86_400, subtotal=2900)
    plan = plan_for(sb, "duplicate-customers")
    assert isinstance(plan, FixPlan) and plan.needs_choice and not plan.calls
    assert {c.customer_id for c in plan.candidates} == {"cus_DemoDupePaid01", "cus_DemoDupeUid01"}
    assert apply(sb, plan).outcome == "failed" and writes(sb) == []
    chosen = plan.choose("cus_DemoDupeUid01")
    assert chosen.calls[0].body == {"uid": "cus_DemoDupeUid01"}
    with pytest.raises(ValueError):
        plan.choose("cus_SomeoneElse")
    picked = plan_for(sb, "duplicate-customers", customer="cus_DemoDupePaid01")
    assert isinstance(picked, FixPlan) and picked.customer == "cus_DemoDupePaid01"


@pytest.mark.parametrize("fault, outcome, changed", [
    ({"status": 429}, "failed", False),
    ({"status": 500}, "failed", False),  # read back: the uid did not change
    ({"delay": 1.5}, "applied", True),  # timed out, but the change took: read back, not resent
])
def test_a_failed_uid_write_is_read_back_never_resent(sb: Sandbox, fault: dict[str, Any], outcome: str,
                                                      changed: bool) -> None:
    plan = plan_for(sb, "uid-mismatch")
    assert isinstance(plan, FixPlan)
    if "delay" in fault:  # the stand-in applies the write after the client gave up
        sb.fp.latency = 0.0
        sb.fp.inject(r"/referrals/5009$", method="PUT", delay=1.5, times=1)
    else:
        sb.fp.inject(r"/referrals/5009$", method="PUT", times=1, **fault)
    result = apply(sb, plan)
    assert result.outcome == outcome, result.summary
    assert [m for m, p in writes(sb) if p == "/referrals/5009"] == ["PUT"]  # sent once
    assert (sb.fp.referrals[5009].uid == "cus_DemoUidMism001") is (changed or outcome == "applied")
    assert "FirstPromoter" in result.summary


def test_a_revoked_key_is_said_and_nothing_changes(sb: Sandbox) -> None:
    plan = plan_for(sb, "uid-mismatch")
    assert isinstance(plan, FixPlan)
    sb.fp.revoke(FP_API_KEY)
    result = apply(sb, plan)
    assert result.outcome == "failed" and "401" in result.summary and FP_API_KEY not in result.summary
    assert sb.fp.referrals[5009].uid == "user_4821"


def test_an_import_without_answer_is_not_resent(sb: Sandbox) -> None:
    plan = plan_for(sb, "missing-commission")
    assert isinstance(plan, FixPlan)
    sb.fp.inject(r"/import_events$", method="POST", status=502, times=1)
    result = apply(sb, plan)
    assert result.outcome == "unknown" and "did not send it again" in result.summary
    assert [p for _, p in writes(sb)].count("/referrals/5017/import_events") == 1


def test_the_audit_line_masks_emails_and_holds_before_after_and_answers(sb: Sandbox,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    from bot.fix_audit import record_fix

    plan = plan_for(sb, "case-variant")
    assert isinstance(plan, FixPlan)
    result = apply(sb, plan)
    with caplog.at_level(logging.INFO, logger="fpcheck.audit"):
        record_fix(result, via="terminal", user="ana", where="terminal", ref="abc123")
    line = json.loads(caplog.records[-1].getMessage())
    assert line["event"] == "fpcheck.fix" and line["outcome"] == "applied" and line["referral"] == 5007
    assert line["query"] == "c***@example.com" and "case@example.com" not in caplog.text
    assert line["changes"][0]["after"] == "cus_DemoCaseVar001"
    assert any(r.get("status") == 202 for r in line["responses"])
    assert FP_API_KEY not in caplog.text
