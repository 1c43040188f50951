"""fpcheck in Slack, end to end: signed requests into a real Bolt app over HTTP, the real engine
against the seeded stand-ins, and every Slack Web API call recorded by the Slack stand-in."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
from slack_harness import BOT_TOKEN, SIGNING_SECRET, Harness, all_text, button_payload, mention
from stand_ins.slack_api import BOT_USER_ID

from bot.slack.text import USAGE

CHECKING = re.compile(r"Checking (\S+)…")


def audit_lines(caplog: pytest.LogCaptureFixture, bot: Harness | None = None) -> list[dict]:
    """The audit lines written so far; with `bot`, after its listeners have all finished."""
    if bot is not None:
        bot.drain()
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]


def test_command_acks_fast_then_posts_parent_and_threaded_report(bot: Harness, clean_sandbox, caplog) -> None:
    caplog.set_level(logging.INFO)
    clean_sandbox.stripe.latency = 0.3  # the checks take a while; the ack must not wait for them
    answer = bot.command("no-referral@example.com")
    assert answer.status == 200 and answer.seconds < 1.0
    ack = answer.json()
    assert ack["response_type"] == "ephemeral"
    assert CHECKING.search(ack["text"]).group(1) == "no-referral@example.com"

    parent, reply = bot.slack.wait_for("chat.postMessage", 2)
    assert bot.slack.methods() == ["auth.test", "chat.postMessage", "chat.postMessage"]
    # the parent: short, in the channel, says who asked, for whom, and the most likely cause
    assert parent.params["channel"] == "C0GENERAL" and "thread_ts" not in parent.params
    assert "<@U0ALICE> checked *no-referral@example.com*" in parent.params["text"]
    assert ":x: Most likely cause: *FirstPromoter referral*" in parent.params["text"]
    # the report: threaded under the parent
    parent_ts = next(ts for (ch, ts), m in bot.slack.messages.items() if "thread_ts" not in m)
    assert reply.params["thread_ts"] == parent_ts
    blocks = reply.params["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "fpcheck: no-referral@example.com", "emoji": True},
    }
    assert reply.params["text"].startswith("fpcheck no-referral@example.com: FAIL")
    text = all_text(blocks)
    assert ":x: *FirstPromoter referral*" in text
    assert "*Fix:*" in text
    assert "<https://dashboard.stripe.com/" in text  # evidence links
    assert "Run again" in text and "took " in text and "help.firstpromoter.com" in text
    # one audit line for the run
    (line,) = audit_lines(caplog, bot)
    assert line["via"] == "command" and line["outcome"] == "delivered" and line["user"] == "U0ALICE"
    assert (
        line["query"] == "n***@example.com" and line["verdict"] == "fail" and line["cause"] == "fp.referral"
    )
    assert line["statuses"]["fail"] == 1 and line["duration_ms"] >= 0


def test_mention_in_a_thread_replies_in_that_thread(bot: Harness) -> None:
    parent = bot.slack.add_message("C0ESCALATE", "Customer says no commission for healthy@example.com")
    reply_ts = bot.slack.add_message("C0ESCALATE", "let me check")
    answer = bot.event(mention("healthy@example.com", channel="C0ESCALATE", ts=reply_ts, thread_ts=parent))
    assert answer.status == 200
    (post,) = bot.slack.wait_for("chat.postMessage", 1)
    assert post.params["channel"] == "C0ESCALATE"
    assert post.params["thread_ts"] == parent  # the thread's parent, never the reply's own ts
    assert post.params["blocks"][0]["text"]["text"] == "fpcheck: healthy@example.com"
    assert ":white_check_mark: Every check passed." in all_text(post.params["blocks"])


def test_mention_at_top_level_starts_a_thread_under_it(bot: Harness) -> None:
    ts = bot.slack.add_message("C0GENERAL", "@fpcheck healthy@example.com")
    bot.event(mention("<mailto:healthy@example.com|healthy@example.com>", ts=ts))
    (post,) = bot.slack.wait_for("chat.postMessage", 1)
    assert post.params["thread_ts"] == ts
    assert post.params["text"].startswith("fpcheck healthy@example.com: PASS")


@pytest.mark.parametrize("text", ["", "help", "jane at example", "a@example.com b@example.com", "cus_!!"])
def test_bad_input_gets_usage_and_nothing_runs(bot: Harness, clean_sandbox, text: str) -> None:
    answer = bot.command(text)
    assert answer.status == 200
    ack = answer.json()
    assert ack["response_type"] == "ephemeral"
    assert USAGE in ack["text"]
    if text not in ("", "help"):
        assert ack["text"].startswith(":thinking_face: ")  # the reason comes first
    bot.drain()
    assert bot.slack.methods() == ["auth.test"]
    assert clean_sandbox.stripe.calls() == [] and clean_sandbox.fp.calls() == []


def test_bare_mention_gets_usage_privately_in_the_thread(bot: Harness) -> None:
    ts = bot.slack.add_message("C0GENERAL", "@fpcheck")
    bot.event({**mention("", ts=ts), "text": f"<@{BOT_USER_ID}>"})
    (whisper,) = bot.slack.wait_for("chat.postEphemeral", 1)
    assert whisper.params["user"] == "U0ALICE" and whisper.params["thread_ts"] == ts
    assert USAGE in whisper.params["text"]
    bot.drain()
    assert "chat.postMessage" not in bot.slack.methods()


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("<mailto:healthy@example.com|healthy@example.com>", "healthy@example.com"),
        ("cus_DemoHealthy01", "cus_DemoHealthy01"),
    ],
)
def test_mailto_and_customer_id_work(bot: Harness, typed: str, shown: str) -> None:
    assert CHECKING.search(bot.command(typed).json()["text"]).group(1) == shown
    _, reply = bot.slack.wait_for("chat.postMessage", 2)
    assert reply.params["blocks"][0]["text"]["text"] == f"fpcheck: {shown}"
    assert ":white_check_mark: Every check passed." in all_text(reply.params["blocks"])


def test_bad_signature_and_stale_timestamp_get_401_and_nothing_happens(bot: Harness, clean_sandbox) -> None:
    assert bot.command("healthy@example.com", secret="not-the-secret").status == 401
    assert bot.command("healthy@example.com", at=time.time() - 6 * 60).status == 401
    assert bot.event(mention("healthy@example.com", ts="1.1"), secret="not-the-secret").status == 401
    unsigned = bot.request(
        "/slack/events", "text=healthy%40example.com", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert unsigned.status == 401
    bot.drain()
    assert bot.slack.methods() == ["auth.test"]
    assert clean_sandbox.stripe.calls() == []


def test_retried_event_is_answered_once(bot: Harness) -> None:
    event = mention("healthy@example.com", ts=bot.slack.add_message("C0GENERAL", "x"))
    assert bot.event(event, event_id="Ev0RETRIED1").status == 200
    assert bot.event(event, event_id="Ev0RETRIED1", retry_num=1).status == 200
    assert bot.event(event, event_id="Ev0RETRIED1", retry_num=2).status == 200
    bot.drain()
    assert bot.slack.methods().count("chat.postMessage") == 1


@pytest.mark.parametrize(
    "channel, error", [("C0OUTSIDE", "not_in_channel"), ("G0PRIVATE", "channel_not_found")]
)
def test_channel_the_bot_is_not_in_gets_the_report_privately(
    bot: Harness, channel: str, error: str, caplog
) -> None:
    caplog.set_level(logging.INFO)
    bot.slack.not_member[channel] = error
    bot.command("no-referral@example.com", channel=channel, hook="outside")
    (hook,) = bot.slack.wait_for("response_url", 1)
    assert hook.path == "/response/outside"
    assert hook.params["response_type"] == "ephemeral" and hook.params["replace_original"] is False
    blocks = hook.params["blocks"]
    assert "/invite @fpcheck" in blocks[0]["text"]["text"]
    assert blocks[1]["text"]["text"] == "fpcheck: no-referral@example.com"
    assert ":x: *FirstPromoter referral*" in all_text(blocks)
    assert hook.params["text"].startswith("fpcheck no-referral@example.com: FAIL")
    (line,) = audit_lines(caplog, bot)
    assert line["outcome"] == "fallback" and line["detail"] == error


def test_upstream_failure_still_delivers_a_report_with_error_checks(bot: Harness, clean_sandbox) -> None:
    clean_sandbox.fp.inject(r"/referrals", status=500, body={"message": "Internal Server Error"})
    bot.command("healthy@example.com")
    parent, reply = bot.slack.wait_for("chat.postMessage", 2)
    text = all_text(reply.params["blocks"])
    line = next(s for s in text.split("\n") if "*FirstPromoter referral*" in s)
    assert line.startswith(":exclamation:") and "500" in line
    assert ":exclamation:" in parent.params["text"]  # the verdict says checks could not run


def test_run_again_updates_the_report_and_parent_in_place(bot: Harness, clean_sandbox, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.command("too-early@example.com")
    parent, reply = bot.slack.wait_for("chat.postMessage", 2)
    assert ":warning: *" in all_text(reply.params["blocks"])  # too early: payment.timing warns
    ((key, message),) = [(k, m) for k, m in bot.slack.messages.items() if m.get("thread_ts")]
    stripe_calls = len(clean_sandbox.stripe.calls())

    answer = bot.action(
        button_payload(message, channel="C0GENERAL", user="U0BOB", response_url=bot.slack.response_url("btn"))
    )
    assert answer.status == 200
    updates = bot.slack.wait_for("chat.update", 2)
    assert {u.params["ts"] for u in updates} == {key[1], reply_parent(bot)}
    assert len(clean_sandbox.stripe.calls()) > stripe_calls  # the checks really ran again
    updated = bot.slack.messages[key]
    assert updated["edited"] is True
    context = updated["blocks"][-1]["elements"][0]["text"]
    assert "Asked by <@U0ALICE>, run again by <@U0BOB>" in context
    assert "Run again" in all_text(updated["blocks"])  # the button stays for the next time
    assert len(bot.slack.of("chat.postMessage")) == 2  # nothing new was posted
    assert [line["via"] for line in audit_lines(caplog, bot)] == ["command", "button"]


def reply_parent(bot: Harness) -> str:
    return next(
        ts
        for (_, ts), m in bot.slack.messages.items()
        if "thread_ts" not in m and m.get("user") == BOT_USER_ID
    )


def test_run_again_on_the_private_report_replaces_it_through_response_url(bot: Harness) -> None:
    bot.slack.not_member["C0OUTSIDE"] = "not_in_channel"
    bot.command("healthy@example.com", channel="C0OUTSIDE")
    (first,) = bot.slack.wait_for("response_url", 1)
    message = {"ts": "1700000999.000100", "blocks": first.params["blocks"]}
    payload = button_payload(
        message,
        channel="C0OUTSIDE",
        user="U0ALICE",
        response_url=bot.slack.response_url("btn"),
        ephemeral=True,
    )
    bot.action(payload)
    _, second = bot.slack.wait_for("response_url", 2)
    assert second.path == "/response/btn" and second.params["replace_original"] is True
    assert "/invite @fpcheck" in second.params["blocks"][0]["text"]["text"]  # the note is kept
    assert "run again by <@U0ALICE>" in all_text(second.params["blocks"])
    bot.drain()
    assert "chat.update" not in bot.slack.methods()


def test_run_again_under_a_mention_updates_only_the_report(bot: Harness) -> None:
    parent = bot.slack.add_message("C0ESCALATE", "customer escalation")  # a person's message
    bot.event(mention("too-early@example.com", channel="C0ESCALATE", ts=parent))
    bot.slack.wait_for("chat.postMessage", 1)
    (((channel, ts), message),) = [(k, m) for k, m in bot.slack.messages.items() if m.get("thread_ts")]
    bot.action(
        button_payload(message, channel=channel, user="U0BOB", response_url=bot.slack.response_url("b"))
    )
    (update,) = bot.slack.wait_for("chat.update", 1)
    assert update.params["ts"] == ts
    bot.drain()
    assert bot.slack.methods().count("chat.update") == 1  # never the person's message
    assert "response_url" not in bot.slack.methods()


def test_allow_lists_deny_and_say_who_may(make_harness, clean_sandbox, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot = make_harness(fpcheck_allowed_channels="C0SUPPORT", fpcheck_allowed_users="U0ALICE,U0CAROL")
    denied = bot.command("healthy@example.com", channel="C0GENERAL").json()
    assert (
        denied["response_type"] == "ephemeral"
        and denied["text"] == ":no_entry: fpcheck runs only in <#C0SUPPORT>."
    )
    denied = bot.command("healthy@example.com", channel="C0SUPPORT", user="U0MALLORY").json()
    assert "can be run only by <@U0ALICE>, <@U0CAROL>" in denied["text"]
    ts = bot.slack.add_message("C0SUPPORT", "x")
    bot.event(mention("healthy@example.com", channel="C0SUPPORT", user="U0MALLORY", ts=ts))
    (whisper,) = bot.slack.wait_for("chat.postEphemeral", 1)
    assert whisper.params["user"] == "U0MALLORY" and "<@U0ALICE>" in whisper.params["text"]
    bot.drain()
    assert "chat.postMessage" not in bot.slack.methods()
    assert clean_sandbox.stripe.calls() == []
    assert [line["outcome"] for line in audit_lines(caplog, bot)] == ["denied", "denied", "denied"]


def test_allowed_user_in_allowed_channel_gets_the_report(make_harness) -> None:
    bot = make_harness(fpcheck_allowed_channels="C0SUPPORT", fpcheck_allowed_users="U0ALICE")
    assert "Checking" in bot.command("healthy@example.com", channel="C0SUPPORT").json()["text"]
    bot.slack.wait_for("chat.postMessage", 2)


def test_slack_429_is_retried_after_retry_after(bot: Harness) -> None:
    bot.slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    bot.command("healthy@example.com")
    calls = bot.slack.wait_for("chat.postMessage", 3)
    assert calls[1].at - calls[0].at >= 1.0  # Retry-After honoured
    assert calls[0].params == calls[1].params  # the same parent, sent again
    assert calls[2].params["thread_ts"]


def test_long_retry_after_is_not_waited_for_and_the_asker_hears(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.slack.rate_limit("chat.postMessage", retry_after=120, times=1)
    started = time.monotonic()
    bot.command("healthy@example.com")
    (hook,) = bot.slack.wait_for("response_url", 1)
    assert time.monotonic() - started < 10
    assert "ratelimited" in hook.params["blocks"][0]["text"]["text"]  # the report still reaches the asker
    assert audit_lines(caplog, bot)[0]["outcome"] == "fallback"


def test_unexpected_failure_tells_the_asker_a_reference_that_is_in_the_log(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.slack.fail("chat.postMessage", "fatal_error", after=1)  # the parent posts, the report does not
    bot.command("healthy@example.com")
    (hook,) = bot.slack.wait_for("response_url", 1)
    ref = re.search(r"Reference `([0-9a-f]{8})`", hook.params["text"]).group(1)
    assert hook.params["response_type"] == "ephemeral"
    logged = [r for r in caplog.records if r.name == "fpcheck.slack" and r.levelno == logging.ERROR]
    assert any(ref in r.getMessage() and "fatal_error" in r.getMessage() for r in logged)
    (line,) = audit_lines(caplog, bot)
    assert line["ref"] == ref and line["outcome"] == "failed"


def test_unexpected_failure_after_a_mention_is_whispered_in_the_thread(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.slack.fail("chat.postMessage", "fatal_error")
    ts = bot.slack.add_message("C0GENERAL", "x")
    bot.event(mention("healthy@example.com", ts=ts))
    (whisper,) = bot.slack.wait_for("chat.postEphemeral", 1)
    ref = re.search(r"Reference `([0-9a-f]{8})`", whisper.params["text"]).group(1)
    assert whisper.params["thread_ts"] == ts
    assert any(ref in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_expired_response_url_is_logged_not_silent(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.slack.not_member["C0OUTSIDE"] = "not_in_channel"
    bot.slack.response_status = 404
    bot.command("healthy@example.com", channel="C0OUTSIDE")
    bot.slack.wait_for("response_url", 2)  # the report, then the failure notice: both refused
    bot.drain()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("response_url" in m or "HTTP 404" in m for m in errors), errors
    assert audit_lines(caplog, bot)[-1]["outcome"] == "failed"


def test_healthz(bot: Harness) -> None:
    answer = bot.request("/healthz")
    assert answer.status == 200 and answer.text == "ok\n"
    assert bot.request("/nope").status == 404


def test_a_burst_of_commands_runs_at_once_not_five_at_a_time(bot: Harness, clean_sandbox) -> None:
    from sandbox import scenarios as sc

    # each run waits 1.5 s on FirstPromoter; with Bolt's default 5 workers, runs 6-10 would start
    # only after the first ones finish
    clean_sandbox.fp.inject(r"/referrals", delay=1.5, times=10)
    emails = [s.email for s in sc.SCENARIOS[:10]]
    started = time.monotonic()
    for i, email in enumerate(emails):
        assert bot.command(email, user=f"U0USER{i:02d}").status == 200
    bot.slack.wait_for("chat.postMessage", 20, timeout=20)
    first_read: dict[str, float] = {}
    for r in clean_sandbox.stripe.calls():
        email = r.param("email")
        if email in emails:
            first_read.setdefault(email, r.at - started)
    assert len(first_read) == 10
    assert max(first_read.values()) < 1.2, sorted(first_read.values())


def test_secrets_never_reach_logs_or_slack(bot: Harness, clean_sandbox, caplog) -> None:
    from sandbox import scenarios as sc

    caplog.set_level(logging.DEBUG)
    bot.command("no-referral@example.com")
    bot.slack.wait_for("chat.postMessage", 2)
    bot.slack.not_member["C0OUTSIDE"] = "not_in_channel"
    bot.command("healthy@example.com", channel="C0OUTSIDE")
    bot.slack.wait_for("response_url", 1)
    bot.event(mention("too-early@example.com", ts=bot.slack.add_message("C0GENERAL", "x")))
    bot.slack.wait_for("chat.postMessage", 4)
    bot.slack.fail("chat.postMessage", "fatal_error")
    bot.command("no-referral@example.com")
    bot.slack.wait_for("response_url", 2)
    bot.drain()
    secrets = [BOT_TOKEN, SIGNING_SECRET, sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY, sc.FP_API_KEY]
    recorded = json.dumps([c.params for c in bot.slack.calls])
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in secrets:
        for where, text in (("Slack calls", recorded), ("logs", logged)):
            assert secret not in text, f"a secret reached the {where}"
            assert secret[-16:] not in text, f"part of a secret reached the {where}"
    assert len(caplog.records) > 20  # the debug logs were really captured
