"""The message shortcut "Check with fpcheck", its picker, and the "Check a customer" modal, end to
end: signed payloads into the real Bolt app over loopback HTTP, the real engine against the seeded
stand-ins, and what the asker (and the channel) would see in the Slack stand-in."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_harness import APP_ID, BOT_TOKEN, SIGNING_SECRET, Harness, all_text, signed_headers
from stand_ins.slack_api import TEAM_ID, Call, SlackStandIn
from test_slack_manifest import manifest

from bot.slack.app import build_app
from bot.slack.modal import GLOBAL_SHORTCUT, MODAL, ONLY_ME_BLOCK, QUERY_BLOCK, WHERE_BLOCK
from bot.slack.settings import load_slack_settings
from bot.slack.shortcuts import MESSAGE_SHORTCUT, NOTHING_FOUND, picker_blocks, queries_in
from checks.engine import Engine
from checks.facts import Query

_n = 0


def audit_lines(caplog: pytest.LogCaptureFixture, bot: Harness) -> list[dict]:
    bot.drain()
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]


def trigger() -> str:
    global _n
    _n += 1
    return f"{_n}.{time.time_ns()}.fpchecktrigger"


def message_shortcut(slack: SlackStandIn, channel: str, ts: str, *, user: str = "U0ALICE",
                     hook: str = "shortcut", trigger_id: str | None = None) -> dict:
    """What Slack sends when someone picks "Check with fpcheck" on the message (channel, ts)."""
    message = {k: v for k, v in slack.messages[(channel, ts)].items() if k in ("type", "user", "ts", "text",
                                                                                  "thread_ts", "blocks")}
    return {
        "type": "message_action", "token": "legacy-verification-token", "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": "fpcheck-test"}, "user": {"id": user, "name": "alice", "team_id": TEAM_ID},
        "channel": {"id": channel, "name": "escalations"}, "is_enterprise_install": False, "enterprise": None,
        "callback_id": MESSAGE_SHORTCUT, "trigger_id": trigger_id or trigger(), "api_app_id": APP_ID,
        "response_url": slack.response_url(hook), "message_ts": ts, "message": message,
    }


def global_shortcut(*, user: str = "U0ALICE") -> dict:
    return {"type": "shortcut", "token": "legacy-verification-token", "action_ts": f"{time.time():.6f}",
            "team": {"id": TEAM_ID, "domain": "fpcheck-test"}, "user": {"id": user, "username": "alice",
                                                                        "team_id": TEAM_ID},
            "is_enterprise_install": False, "enterprise": None, "callback_id": GLOBAL_SHORTCUT,
            "trigger_id": trigger(), "api_app_id": APP_ID}


def picked(call: Call, n: int, *, user: str = "U0ALICE", channel: str = "C0ESCALATE", hook: str = "pick") -> dict:
    """What Slack sends when the n-th button of the picker (sent through `call`) is pressed."""
    (actions,) = [b for b in call.params["blocks"] if b["type"] == "actions"]
    button = actions["elements"][n]
    return {"type": "block_actions", "user": {"id": user, "username": "alice", "team_id": TEAM_ID},
            "api_app_id": APP_ID, "token": "legacy-verification-token", "trigger_id": trigger(),
            "container": {"type": "message", "message_ts": "1700000099.000100", "channel_id": channel,
                          "is_ephemeral": True},
            "team": {"id": TEAM_ID, "domain": "fpcheck-test"}, "channel": {"id": channel, "name": "escalations"},
            "response_url": f"{call.path.rsplit('/', 1)[0]}/{hook}",
            "actions": [{"action_id": button["action_id"], "block_id": actions["block_id"], "text": button["text"],
                         "value": button["value"], "type": "button", "action_ts": f"{time.time():.6f}"}]}


def submission(view: dict, text: str, *, user: str = "U0ALICE", channel: str | None = None, only_me: bool = False,
               response_url: str | None = None) -> dict:
    """What Slack sends when the opened modal `view` is submitted with these values."""
    values: dict[str, Any] = {
        QUERY_BLOCK: {"query": {"type": "plain_text_input", "value": text}},
        WHERE_BLOCK: {"conversation": {"type": "conversations_select", "selected_conversation": channel}},
        ONLY_ME_BLOCK: {"only_me": {"type": "checkboxes", "selected_options": [
            {"text": {"type": "plain_text", "text": "Only me"}, "value": "only_me"}] if only_me else []}},
    }
    urls = [{"block_id": WHERE_BLOCK, "action_id": "conversation", "channel_id": channel,
             "response_url": response_url}] if channel and response_url else []
    return {"type": "view_submission", "team": {"id": TEAM_ID, "domain": "fpcheck-test"},
            "user": {"id": user, "username": "alice", "team_id": TEAM_ID}, "api_app_id": APP_ID,
            "token": "legacy-verification-token", "trigger_id": trigger(),
            "view": {**view, "state": {"values": values}}, "response_urls": urls, "is_enterprise_install": False}


def opened_modal(bot: Harness, n: int = 1) -> dict:
    """The n-th modal fpcheck opened, as the stand-in keeps it (id, hash, state: Slack's shape)."""
    bot.slack.wait_for("views.open", n)
    return [v for v in bot.slack.views.values() if v["callback_id"] == MODAL][n - 1]


def responses(slack: SlackStandIn, hook: str) -> list[Call]:
    return [c for c in slack.of("response_url") if c.path.endswith("/" + hook)]


# ---------------------------------------------------------------- reading a message


def test_the_emails_and_ids_in_a_message_are_found_markup_and_all() -> None:
    text = ("<mailto:jane@example.com|jane@example.com> says her promoter got nothing; also <@U0BOB> saw "
            "JANE@example.com and <https://dashboard.stripe.com/customers/cus_DemoHealthy01|this one>, "
            "cus_Q1a2B3c4D5e6F7. <!here> not-an-email@ and mailto:x and jane at example dot com.")
    assert [q.raw for q in queries_in(text)] == ["jane@example.com", "cus_DemoHealthy01", "cus_Q1a2B3c4D5e6F7"]
    assert queries_in("nothing to see <#C0GENERAL|general> <!channel>") == []
    assert [q.raw for q in queries_in("ask jürgen@münchen.de.")] == ["jürgen@münchen.de"]


def test_the_picker_escapes_what_it_shows() -> None:
    hostile = [Query(raw=f"<!channel>{i}@example.com\u202e", email="x@example.com") for i in range(12)]
    blocks = picker_blocks(hostile, "1.2")
    section = blocks[0]["text"]
    assert section["type"] == "mrkdwn" and section["verbatim"] is True
    assert "<!channel>" not in section["text"] and "&lt;!channel&gt;" in section["text"]
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    # a button's label is plain_text (Slack parses no mention there), its invisible characters shown
    assert all(e["text"]["type"] == "plain_text" and "\u202e" not in e["text"]["text"] for e in actions["elements"])
    assert len(actions["elements"]) == 10 and len({e["action_id"] for e in actions["elements"]}) == 10
    assert "2 more not shown" in blocks[0]["text"]["text"]


# ---------------------------------------------------------------- the message shortcut


def test_a_message_shortcut_answers_in_the_messages_thread(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    ts = bot.slack.add_message("C0ESCALATE", "<mailto:no-referral@example.com|no-referral@example.com> says her "
                                             "promoter got nothing <!channel>")
    answer = bot.action(message_shortcut(bot.slack, "C0ESCALATE", ts))
    assert answer.status == 200 and answer.seconds < 1.0
    (post,) = bot.slack.wait_for("chat.postMessage", 1)
    assert post.params["channel"] == "C0ESCALATE" and post.params["thread_ts"] == ts
    blocks = post.params["blocks"]
    assert blocks[0]["text"]["text"] == "fpcheck: no-referral@example.com"
    assert ":x: *FirstPromoter referral*" in all_text(blocks) and "Run again" in all_text(blocks)
    assert "<!channel>" not in all_text(blocks)
    (line,) = audit_lines(caplog, bot)
    assert (line["via"], line["outcome"], line["user"], line["channel"]) == ("shortcut", "delivered", "U0ALICE",
                                                                             "C0ESCALATE")
    assert line["query"] == "n***@example.com" and line["cause"] == "fp.referral"


def test_a_message_inside_a_thread_is_answered_in_that_thread(bot: Harness) -> None:
    parent = bot.slack.add_message("C0ESCALATE", "escalation")
    reply = bot.slack.add_message("C0ESCALATE", "it's cus_DemoHealthy01")
    bot.slack.messages[("C0ESCALATE", reply)]["thread_ts"] = parent
    bot.action(message_shortcut(bot.slack, "C0ESCALATE", reply))
    (post,) = bot.slack.wait_for("chat.postMessage", 1)
    assert post.params["thread_ts"] == parent  # the thread's parent, never the reply's own ts
    assert ":white_check_mark: Every check passed." in all_text(post.params["blocks"])


def test_two_emails_get_a_private_picker_and_each_pick_answers_in_the_thread(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    ts = bot.slack.add_message("C0ESCALATE", "healthy@example.com or <mailto:no-referral@example.com|"
                                             "no-referral@example.com>, not sure which")
    bot.action(message_shortcut(bot.slack, "C0ESCALATE", ts))
    (picker,) = bot.slack.wait_for("response_url", 1)
    assert picker.params["response_type"] == "ephemeral" and picker.params["replace_original"] is False
    assert "I found 2 customers" in picker.params["text"]
    (actions,) = [b for b in picker.params["blocks"] if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions["elements"]] == ["healthy@example.com", "no-referral@example.com"]
    assert "chat.postMessage" not in bot.slack.methods()  # nothing is checked before a pick

    bot.action(picked(picker, 1))
    (post,) = bot.slack.wait_for("chat.postMessage", 1)
    assert post.params["channel"] == "C0ESCALATE" and post.params["thread_ts"] == ts
    assert post.params["blocks"][0]["text"]["text"] == "fpcheck: no-referral@example.com"
    (line,) = audit_lines(caplog, bot)  # one: the pick's (offering the picker ran nothing)
    assert (line["via"], line["outcome"], line["query"]) == ("picker", "delivered", "n***@example.com")
    assert bot.slack.count("chat.postMessage") == 1


def test_a_message_with_no_customer_gets_a_private_hint(bot: Harness, clean_sandbox, caplog) -> None:
    caplog.set_level(logging.INFO)
    ts = bot.slack.add_message("C0ESCALATE", "my promoter got nothing, help <!here>")
    bot.action(message_shortcut(bot.slack, "C0ESCALATE", ts))
    (hint,) = bot.slack.wait_for("response_url", 1)
    assert hint.params["text"] == NOTHING_FOUND and hint.params["response_type"] == "ephemeral"
    bot.drain()
    assert "chat.postMessage" not in bot.slack.methods() and audit_lines(caplog, bot) == []
    assert clean_sandbox.stripe.calls() == [] and clean_sandbox.fp.calls() == []


@pytest.mark.parametrize("text", ["healthy@example.com is upset",
                                  "healthy@example.com and no-referral@example.com are upset"])
def test_a_refused_user_is_answered_privately_and_audited(make_harness: Callable[..., Harness], clean_sandbox,
                                                          caplog, text: str) -> None:
    caplog.set_level(logging.INFO)
    bot = make_harness(fpcheck_allowed_users="U0CAROL")
    ts = bot.slack.add_message("C0ESCALATE", text)
    bot.action(message_shortcut(bot.slack, "C0ESCALATE", ts))
    (answer,) = bot.slack.wait_for("response_url", 1)
    assert answer.params["text"].startswith(":no_entry: fpcheck can be run only by <@U0CAROL>")
    assert answer.params["response_type"] == "ephemeral" and "blocks" not in answer.params  # no picker either
    (line,) = audit_lines(caplog, bot)
    assert (line["via"], line["outcome"], line["user"]) == ("shortcut", "denied", "U0ALICE")
    assert "chat.postMessage" not in bot.slack.methods() and clean_sandbox.stripe.calls() == []


def test_where_fpcheck_may_not_post_the_asker_gets_the_report_privately(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.slack.not_member["C0PRIVATE"] = "channel_not_found"
    ts = bot.slack.add_message("C0PRIVATE", "healthy@example.com")
    bot.action(message_shortcut(bot.slack, "C0PRIVATE", ts))
    (private,) = bot.slack.wait_for("response_url", 1)
    assert private.params["response_type"] == "ephemeral"
    assert "only you can see this report" in all_text(private.params["blocks"])
    assert "fpcheck: healthy@example.com" in all_text(private.params["blocks"])
    (line,) = audit_lines(caplog, bot)
    assert (line["outcome"], line["detail"]) == ("fallback", "channel_not_found")


def test_a_replayed_shortcut_is_answered_once(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    ts = bot.slack.add_message("C0ESCALATE", "healthy@example.com")
    payload = message_shortcut(bot.slack, "C0ESCALATE", ts)
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed_headers(body, "application/x-www-form-urlencoded")
    assert bot.request("/slack/events", body, headers).status == 200
    assert bot.request("/slack/events", body, headers).status == 200  # the same signed request again
    assert bot.action(payload).status == 200  # signed anew (Socket Mode signs nothing): the same trigger_id
    bot.drain()
    assert bot.slack.count("chat.postMessage") == 1
    assert len(audit_lines(caplog, bot)) == 1


def test_every_shortcut_in_the_manifest_is_answered(bot: Harness) -> None:
    # app.yaml's callback_ids reach a listener (an unanswered one would be a 404 after 3 s)
    for shortcut in manifest()["features"]["shortcuts"]:
        if shortcut["type"] == "global":
            answer = bot.action({**global_shortcut(), "callback_id": shortcut["callback_id"]})
            assert answer.status == 200
            bot.slack.wait_for("views.open", 1)
        else:
            ts = bot.slack.add_message("C0ESCALATE", "nothing here")
            answer = bot.action({**message_shortcut(bot.slack, "C0ESCALATE", ts), "callback_id": shortcut["callback_id"]})
            assert answer.status == 200
            bot.slack.wait_for("response_url", 1)



def test_a_shortcut_queued_past_its_deadline_is_not_checked(make_harness: Callable[..., Harness],
                                                             slack: SlackStandIn, clean_sandbox, caplog) -> None:
    caplog.set_level(logging.INFO)
    engine = Engine(clean_sandbox.settings(fpcheck_deadline=1.0))
    settings = load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                   slack_api_base_url=slack.api_url)
    one_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="one")
    bot = make_harness(app=build_app(settings, engine, executor=one_worker))
    one_worker.submit(time.sleep, 2.0)  # the only worker is busy for twice the deadline
    ts = slack.add_message("C0ESCALATE", "healthy@example.com")
    bot.action(message_shortcut(slack, "C0ESCALATE", ts))
    (line,) = audit_lines(caplog, bot)
    assert (line["via"], line["outcome"]) == ("shortcut", "expired") and line["duration_ms"] >= 1000
    (told,) = slack.of("response_url")
    assert "too busy to check healthy@example.com" in told.params["text"]
    assert clean_sandbox.stripe.calls() == [] and "chat.postMessage" not in slack.methods()


# ---------------------------------------------------------------- the global shortcut and its modal


def test_the_global_shortcut_opens_the_modal(bot: Harness) -> None:
    answer = bot.action(global_shortcut())
    assert answer.status == 200
    (call,) = bot.slack.wait_for("views.open", 1)
    view = call.params["view"]
    assert view["type"] == "modal" and view["callback_id"] == MODAL and view["title"]["text"] == "Check a customer"
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks[QUERY_BLOCK]["element"]["type"] == "plain_text_input"
    where = blocks[WHERE_BLOCK]
    assert where["optional"] is True and where["element"]["type"] == "conversations_select"
    assert "initial_conversation" not in where["element"]  # defaults to none: the report comes privately
    assert where["element"]["response_url_enabled"] is True
    assert blocks[ONLY_ME_BLOCK]["element"]["options"][0]["value"] == "only_me"
    assert opened_modal(bot)["state"] == {"values": {}} and opened_modal(bot)["id"].startswith("V")


@pytest.mark.parametrize("typed", ["jane at example", "", "help", "cus_!!", "a@example.com b@example.com"])
def test_a_malformed_query_is_an_error_under_the_field(bot: Harness, clean_sandbox, caplog, typed: str) -> None:
    caplog.set_level(logging.INFO)
    bot.action(global_shortcut())
    view = opened_modal(bot)
    answer = bot.action(submission(view, typed))
    assert answer.status == 200
    ack = answer.json()
    assert ack["response_action"] == "errors" and set(ack["errors"]) == {QUERY_BLOCK}
    assert 0 < len(ack["errors"][QUERY_BLOCK]) <= 150
    bot.drain()
    assert "chat.postMessage" not in bot.slack.methods() and audit_lines(caplog, bot) == []
    assert clean_sandbox.stripe.calls() == []


def test_only_me_with_no_conversation_is_a_direct_message(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.action(global_shortcut())
    answer = bot.action(submission(opened_modal(bot), "no-referral@example.com"))
    ack = answer.json()
    assert ack["response_action"] == "update"
    assert "Checking no-referral@example.com" in all_text(ack["view"]["blocks"])
    assert "direct message" in all_text(ack["view"]["blocks"])
    (dm,) = bot.slack.wait_for("chat.postMessage", 1)
    assert dm.params["channel"] == "U0ALICE" and "thread_ts" not in dm.params
    assert dm.params["blocks"][0]["text"]["text"] == "fpcheck: no-referral@example.com"
    (line,) = audit_lines(caplog, bot)
    assert (line["via"], line["outcome"], line["channel"], line["cause"]) == ("modal", "delivered", None,
                                                                              "fp.referral")


def test_a_conversation_gets_the_verdict_line_and_the_threaded_report(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.action(global_shortcut())
    answer = bot.action(submission(opened_modal(bot), "healthy@example.com", channel="C0GENERAL"))
    assert "will be posted in <#C0GENERAL>" in all_text(answer.json()["view"]["blocks"])
    parent, report = bot.slack.wait_for("chat.postMessage", 2)
    assert parent.params["channel"] == "C0GENERAL" and "<@U0ALICE> checked *healthy@example.com*" in parent.params["text"]
    assert report.params["thread_ts"] and report.params["channel"] == "C0GENERAL"
    (line,) = audit_lines(caplog, bot)
    assert (line["via"], line["channel"], line["outcome"]) == ("modal", "C0GENERAL", "delivered")


def test_a_conversation_and_only_me_is_ephemeral_there(bot: Harness) -> None:
    bot.action(global_shortcut())
    url = bot.slack.response_url("modal")
    bot.action(submission(opened_modal(bot), "healthy@example.com", channel="C0GENERAL", only_me=True,
                          response_url=url))
    (private,) = bot.slack.wait_for("response_url", 1)
    assert private.params["response_type"] == "ephemeral" and private.path.endswith("/modal")
    assert "fpcheck: healthy@example.com" in all_text(private.params["blocks"])
    bot.drain()
    assert "chat.postMessage" not in bot.slack.methods()


def test_a_response_url_that_is_not_slacks_is_not_used(bot: Harness) -> None:
    bot.action(global_shortcut())
    bot.action(submission(opened_modal(bot), "healthy@example.com", channel="C0GENERAL", only_me=True,
                          response_url="https://evil.example/collect"))
    (dm,) = bot.slack.wait_for("chat.postMessage", 1)
    assert dm.params["channel"] == "U0ALICE"  # privately, by direct message instead
    bot.drain()
    assert bot.slack.of("response_url") == []


def test_the_modal_is_refused_in_words_and_audited(make_harness: Callable[..., Harness], clean_sandbox,
                                                   caplog) -> None:
    caplog.set_level(logging.INFO)
    bot = make_harness(fpcheck_allowed_channels="C0SUPPORT")
    bot.action(global_shortcut())
    ack = bot.action(submission(opened_modal(bot), "healthy@example.com")).json()  # a DM: not C0SUPPORT
    assert ack["response_action"] == "update"
    assert "fpcheck runs only in <#C0SUPPORT>" in all_text(ack["view"]["blocks"])
    (line,) = audit_lines(caplog, bot)
    assert (line["via"], line["outcome"], line["query"]) == ("modal", "denied", "h***@example.com")
    assert "chat.postMessage" not in bot.slack.methods() and clean_sandbox.stripe.calls() == []


def test_a_replayed_submission_is_run_once(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.action(global_shortcut())
    payload = submission(opened_modal(bot), "healthy@example.com")
    assert bot.action(payload).json()["response_action"] == "update"
    assert bot.action(payload).status == 200  # the same trigger_id, signed anew
    bot.drain()
    assert bot.slack.count("chat.postMessage") == 1 and len(audit_lines(caplog, bot)) == 1
