"""The sweep in Slack against abuse: its own allow-list (FPCHECK_SWEEP_USERS), an audit line for every
sweep, every Check button press and every refusal, and a Check button that always answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from slack_harness import Harness, all_text, button_payload
from stand_ins.slack_api import SlackStandIn

from bot.slack.sweep import CHECK_ACTION_ID, breakdown_blocks
from bot.sweep_demo import month_settings
from checks.engine import Engine
from checks.model import Status, Verdict
from checks.sweep.run import Lost, PaymentOut, ReferralOut, SweepResult
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import StripeStandIn


def audit_lines(caplog: pytest.LogCaptureFixture, *bots: Harness) -> list[dict]:
    for bot in bots:
        bot.drain()
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]


def pressed(bot: Harness, value: str, *, user: str = "U0BOB", channel: str = "C0GENERAL", thread: str = "1.0") -> int:
    """A press of a Check button holding `value`, in a sweep's thread."""
    message = {"ts": "1700000009.000100", "thread_ts": thread, "blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": CHECK_ACTION_ID, "text": {"type": "plain_text", "text": "Check"},
         "value": value}]}]}
    payload = button_payload(message, channel=channel, user=user, response_url=bot.slack.response_url("press"))
    return bot.action(payload).status


@pytest.fixture(scope="module")
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    seed_month(stripe, fp, invoices=40, referrals=20, commissions=10, lost=3)
    with stripe, fp:
        yield stripe, fp


@pytest.fixture
def sweep_bot(slack: SlackStandIn, month) -> Iterator[Callable[..., Harness]]:  # type: ignore[no-untyped-def]
    made: list[Harness] = []

    def make(**settings: str) -> Harness:
        made.append(Harness(slack, Engine(month_settings(*month)), **settings))
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_sweeps_have_their_own_allow_list_and_every_sweep_is_audited(sweep_bot, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    bot = sweep_bot(fpcheck_sweep_users="U0ALICE")
    refused = bot.command("sweep 31d", user="U0BOB").json()["text"]
    assert refused == ":no_entry: A sweep can be run only by <@U0ALICE>. Ask one of them, or ask an admin to add you."
    assert "Checking" in bot.command("healthy@example.com", user="U0BOB").json()["text"]  # U0BOB may still check
    assert "Sweeping the last 31 days" in bot.command("sweep 31d", user="U0ALICE").json()["text"]
    lines = [line for line in audit_lines(caplog, bot) if line["via"] == "sweep"]
    denied, done = sorted(lines, key=lambda line: line["outcome"] != "denied")
    assert (denied["user"], denied["outcome"], denied["detail"]) == ("U0BOB", "denied", "not on the sweep allow-list")
    assert (done["user"], done["outcome"], done["query"]) == ("U0ALICE", "delivered", "sweep 31d")
    assert set(done["sweep"]) == {"from", "to", "payments", "lost", "partial"} and done["sweep"]["lost"] == 3
    assert "@" not in json.dumps(done["sweep"])  # counts and dates, never a customer's email


def test_without_sweep_users_a_sweep_is_for_whoever_may_check(sweep_bot) -> None:  # type: ignore[no-untyped-def]
    bot = sweep_bot(fpcheck_allowed_users="U0ALICE")
    assert bot.command("sweep 7d", user="U0BOB").json()["text"].startswith(
        ":no_entry: A sweep can be run only by <@U0ALICE>.")
    bot = sweep_bot(fpcheck_allowed_channels="C0SUPPORT")
    assert bot.command("sweep 7d").json()["text"] == ":no_entry: fpcheck runs only in <#C0SUPPORT>."


def test_every_check_button_press_is_answered_and_audited(make_harness: Callable[..., Harness],
                                                          slack: SlackStandIn, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot = make_harness(fpcheck_allowed_users="U0BOB")
    # a payment with neither email nor customer, an empty value, someone not allowed
    assert pressed(bot, "ch_3Q0NoEmailNoCustomer") == 200
    assert pressed(bot, "") == 200
    assert pressed(bot, "healthy@example.com", user="U0MALLORY") == 200
    lines = audit_lines(caplog, bot)
    # the presses are answered on Bolt's pool, so in any order
    assert sorted((line["via"], line["outcome"]) for line in lines) == [("sweep_check", "denied")] + [
        ("sweep_check", "failed")] * 2
    assert all(line["detail"].startswith("the button holds no email or cus_ id: ")
               for line in lines if line["outcome"] == "failed")
    said = sorted(w.params["text"] for w in slack.of("chat.postEphemeral"))
    assert len(said) == 3
    assert said[0].startswith(":no_entry: fpcheck can be run only by <@U0BOB>")
    assert said[1].startswith(":warning: There is no one to check behind this button: it is empty")
    assert said[2].startswith(":warning: There is no one to check behind this button: “ch_3Q0NoEmailNoCustomer”")
    assert all(w.params["thread_ts"] == "1.0" for w in slack.of("chat.postEphemeral"))


def test_a_press_where_the_bot_can_no_longer_post_is_answered_privately(bot: Harness, slack: SlackStandIn) -> None:
    slack.not_member["C0OLDSWEEP"] = "not_in_channel"  # the bot was removed since it posted the sweep
    assert pressed(bot, "no-referral@example.com", channel="C0OLDSWEEP") == 200
    assert pressed(bot, "ch_3Q0NoEmail", channel="C0OLDSWEEP") == 200
    bot.drain()
    report, words = sorted(slack.of("response_url"), key=lambda c: "blocks" not in c.params)
    assert report.params["text"].startswith("fpcheck no-referral@example.com: FAIL")
    assert report.params["response_type"] == "ephemeral" and "I'm not a member" in all_text(report.params["blocks"])
    assert words.params["text"].startswith(":warning: There is no one to check behind this button")


def test_a_press_in_an_ephemeral_message_answers_in_its_thread(bot: Harness, slack: SlackStandIn) -> None:
    # Slack sends no `message` for a button in an ephemeral message: the container says where it is
    payload = button_payload({"ts": "1.5", "thread_ts": "1.0", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": CHECK_ACTION_ID, "text": {"type": "plain_text", "text": "Check"},
         "value": "healthy@example.com"}]}]}, channel="C0GENERAL", user="U0BOB",
        response_url=slack.response_url("e"), ephemeral=True)
    del payload["message"]
    payload["container"]["thread_ts"] = "1.0"
    assert bot.action(payload).status == 200
    (posted,) = slack.wait_for("chat.postMessage", 1)
    assert posted.params["thread_ts"] == "1.0" and posted.params["text"].startswith("fpcheck healthy@example.com")


def _lost(query: str) -> Lost:
    return Lost(query=query, payment=PaymentOut(id="ch_1", amount=2900, currency="usd", paid_at="2026-11-20T13:55:52Z"),
                referral=ReferralOut(), verdict=Verdict(status=Status.FAIL, check="lead.uid", summary="s"))


def test_the_breakdown_has_a_check_button_only_where_there_is_someone_to_check() -> None:
    long_email = "a" * 230 + "@example.com"  # over the 200 characters the value used to be cut to
    result = SweepResult(window={}, scanned={"payments": 3}, lost=[_lost(long_email), _lost("ch_3QGuestTid")],
                         by_cause={"lead.uid": {"count": 2, "amount_usd": 58.0}})
    blocks = breakdown_blocks(result)
    buttons = [b["accessory"] for b in blocks if "accessory" in b]
    assert [b["value"] for b in buttons] == [long_email]
    assert "ch_3QGuestTid · `ch_1` · 2026-11-20T13:55 UTC · _no email or customer to check_" in all_text(blocks)
    assert all(b["text"].get("verbatim") is True for b in blocks if b["type"] == "section")
