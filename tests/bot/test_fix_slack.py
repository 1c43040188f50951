"""The Fix… button end to end: a signed /fpcheck, the report, the button, the modal, the submit, the
write in the FirstPromoter stand-in, the result in the thread and the report re-checked in place."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_harness import APP_ID, BOT_TOKEN, SIGNING_SECRET, Harness, all_text
from stand_ins.slack_api import TEAM_ID, SlackStandIn

from bot.slack import blocks as slack_blocks
from bot.slack.app import build_app
from bot.slack.fix import FIX_ACTION_ID, FIX_VIEW_ID
from bot.slack.settings import load_slack_settings
from checks.engine import Engine
from checks.fix.settings import FixSettings
from sandbox.runner import Sandbox

FIXER, OTHER = "U0ALICE", "U0BOB"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(writes=True) as box:
        yield box


@pytest.fixture
def harness(slack: SlackStandIn, sb: Sandbox) -> Iterator[Harness]:
    engine = Engine(sb.settings())
    settings = load_slack_settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                   slack_api_base_url=slack.api_url)
    fixes = FixSettings(fpcheck_allow_fixes=True, fpcheck_fix_users=FIXER, fpcheck_fix_recheck_delay=0.0,
                        fpcheck_fix_batch_wait=1.0, _env_file=None)  # type: ignore[call-arg]
    h = Harness(slack, engine, app=build_app(settings, engine, fixes=fixes))
    yield h
    h.close()
    slack_blocks.EXTRA_BUTTONS.clear()


_n = [0]


def press(h: Harness, report: dict[str, Any], user: str) -> None:
    button = next(e for b in report["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == FIX_ACTION_ID)
    _n[0] += 1
    h.action({
        "type": "block_actions", "user": {"id": user, "team_id": TEAM_ID}, "api_app_id": APP_ID,
        "token": "legacy-verification-token", "trigger_id": f"9.9.{_n[0]}", "team": {"id": TEAM_ID},
        "container": {"type": "message", "message_ts": report["ts"], "channel_id": "C0GENERAL"},
        "channel": {"id": "C0GENERAL"}, "message": report, "response_url": h.slack.response_url(f"fix{_n[0]}"),
        "actions": [{"action_id": FIX_ACTION_ID, "block_id": "fpcheck_actions", "value": button["value"],
                     "type": "button", "action_ts": f"{time.time():.6f}"}],
    })


def submit(h: Harness, view: dict[str, Any], user: str = FIXER, values: dict[str, Any] | None = None) -> None:
    _n[0] += 1  # each submit is its own delivery (a double click, or another replica's copy)
    h.action({"type": "view_submission", "team": {"id": TEAM_ID}, "user": {"id": user, "team_id": TEAM_ID},
              "api_app_id": APP_ID, "token": "legacy-verification-token", "trigger_id": f"8.8.{_n[0]}",
              "view": {**view, "state": {"values": values or {}}}})


def report_for(h: Harness, query: str) -> dict[str, Any]:
    h.command(query, user=FIXER)
    h.slack.wait_for("chat.postMessage", 2)
    return next(m for m in h.slack.messages.values() if m.get("thread_ts") and "Run again" in all_text(m["blocks"]))


def planned_view(h: Harness) -> dict[str, Any]:
    h.slack.wait_for("views.update", 1, timeout=20)
    return next(v for v in h.slack.views.values() if v["callback_id"] == FIX_VIEW_ID and v.get("private_metadata"))


def test_fix_from_the_thread_writes_posts_and_rechecks_in_place(harness: Harness, sb: Sandbox) -> None:
    report = report_for(harness, "uid-mismatch@example.com")
    assert "Fix…" in all_text(report["blocks"])
    press(harness, report, FIXER)
    view = planned_view(harness)
    shown = all_text(view["blocks"])
    assert "user_4821 → cus_DemoUidMism001" in shown and "PUT /referrals/5009" in shown
    assert view["submit"]["text"] == "Apply"
    submit(harness, view)
    posted = harness.slack.wait_for("chat.postMessage", 3, timeout=20)[-1].params
    assert posted["thread_ts"] == report["thread_ts"] and "<@U0ALICE> applied a fix" in posted["text"]
    assert "202" in posted["text"] and "completed" in posted["text"]
    assert sb.fp.referrals[5009].uid == "cus_DemoUidMism001"
    updates = harness.slack.wait_for("chat.update", 1, timeout=20)
    assert updates[0].params["ts"] == report["ts"]
    again = harness.slack.messages[("C0GENERAL", report["ts"])]
    assert "Re-checked after <@U0ALICE>'s fix" in all_text(again["blocks"]) and "Every check passed" in again["text"] \
        or "PASS" in again["text"]
    # the same submit again (a double click, another replica): applied once
    submit(harness, view)
    harness.slack.wait_for("chat.postEphemeral", 1, timeout=10)
    assert [r.method for r in sb.fp.calls() if r.method == "PUT"] == ["PUT"]


def test_someone_not_allowed_is_told_privately_who_may(harness: Harness, sb: Sandbox) -> None:
    report = report_for(harness, "uid-mismatch@example.com")
    press(harness, report, OTHER)
    answer = harness.slack.wait_for("response_url", 1)[-1].params
    assert answer["response_type"] == "ephemeral" and "<@U0ALICE>" in answer["text"]
    assert harness.slack.count("views.open") == 0 and not [r for r in sb.fp.calls() if r.method != "GET"]


def test_a_stale_plan_is_refused_with_what_changed(harness: Harness, sb: Sandbox) -> None:
    report = report_for(harness, "uid-mismatch@example.com")
    press(harness, report, FIXER)
    view = planned_view(harness)
    sb.fp.referrals[5009].uid = "user_5555"  # someone changed it in FirstPromoter meanwhile
    submit(harness, view)
    posted = harness.slack.wait_for("chat.postMessage", 3, timeout=20)[-1].params
    assert "refused" in posted["text"] and "user_5555" in posted["text"]
    assert not [r for r in sb.fp.calls() if r.method != "GET"]


def test_a_manual_cause_gets_no_button(harness: Harness) -> None:
    report = report_for(harness, "trial@example.com")
    assert "Fix…" not in all_text(report["blocks"])


def test_fixes_off_draw_no_button(make_harness: Any) -> None:
    h = make_harness()
    h.command("uid-mismatch@example.com", user=FIXER)
    h.slack.wait_for("chat.postMessage", 2)
    texts = [all_text(m.get("blocks")) for m in h.slack.messages.values()]
    assert all("Fix…" not in t for t in texts) and any("Run again" in t for t in texts)


def test_the_modal_escapes_what_came_from_upstream(harness: Harness, sb: Sandbox) -> None:
    sb.fp.referrals[5009].uid = "<!channel> user"
    report = report_for(harness, "uid-mismatch@example.com")
    press(harness, report, FIXER)
    shown = json.dumps(planned_view(harness)["blocks"])
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
