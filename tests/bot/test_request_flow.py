"""One request flow for every entry point: bot/service.py reads, admits, runs within the deadline,
has the face deliver, and writes the one audit line; a listener only adapts Slack's payload and a
renderer only words the answers.

The first tests go through the signed-HTTP harness; the later ones call the module-level listeners
directly, with a real slack_sdk WebClient (and Bolt's own Respond) pointed at the Slack stand-in."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from slack_bolt.context.respond import Respond
from slack_harness import BOT_TOKEN, SIGNING_SECRET, Harness, all_text, button_payload, mention
from slack_sdk import WebClient
from stand_ins.slack_api import TEAM_ID, SlackStandIn

from bot import audit
from bot.service import DELIVERED, Asker, Delivery, Denied, Request, Service, read
from bot.slack import actions, command, sweep
from bot.slack import mention as mention_face
from bot.slack.app import build_app
from bot.slack.blocks import RERUN_ACTION_ID, Rerun, fallback_text, report_blocks
from bot.slack.settings import load_slack_settings
from checks.engine import Engine
from checks.model import Report

REF = re.compile(r"Reference `([0-9a-f]{8})`")


def audit_lines(caplog: pytest.LogCaptureFixture, bot: Harness | None = None) -> list[dict]:
    if bot is not None:
        bot.drain()
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]


def with_button(action_id: str, value: str, *, ts: str = "1700000001.000100", thread_ts: str | None = None) -> dict:
    """A message carrying one button, as Slack sends it back when the button is pressed."""
    message: dict[str, Any] = {"ts": ts, "blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": "Press"},
         "value": value}]}]}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return message


# ---------------------------------------------------------------- through the harness


def test_every_entry_point_writes_one_audit_line_per_request(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.command("no-referral@example.com")
    bot.slack.wait_for("chat.postMessage", 2)
    ((_, report),) = [(k, m) for k, m in bot.slack.messages.items() if m.get("thread_ts")]
    bot.action(button_payload(report, channel="C0GENERAL", user="U0BOB", response_url=bot.slack.response_url("b")))
    bot.slack.wait_for("chat.update", 2)
    ts = bot.slack.add_message("C0GENERAL", "who lost a commission this week?")
    bot.event(mention("healthy@example.com", ts=ts))
    bot.slack.wait_for("chat.postMessage", 3)
    sweep_thread = bot.slack.add_message("C0GENERAL", "(a sweep's breakdown)")
    pressed = with_button(sweep.CHECK_ACTION_ID, "no-referral@example.com", thread_ts=sweep_thread)
    bot.action(button_payload(pressed, channel="C0GENERAL", user="U0CAROL", response_url=bot.slack.response_url("c")))
    checked = bot.slack.wait_for("chat.postMessage", 4)[-1]

    lines = audit_lines(caplog, bot)
    assert sorted(line["via"] for line in lines) == ["button", "command", "mention", "sweep_check"]
    assert len({line["ref"] for line in lines}) == 4
    assert all(line["outcome"] == "delivered" and line["duration_ms"] >= 0 for line in lines)
    (line,) = [line for line in lines if line["via"] == "sweep_check"]
    assert line["user"] == "U0CAROL" and line["channel"] == "C0GENERAL" and line["team"] == TEAM_ID
    assert line["query"] == "n***@example.com" and line["verdict"] == "fail" and line["cause"] == "fp.referral"
    # the Check button's report, as before: in the sweep's thread, with no Run again button
    assert checked.params["thread_ts"] == sweep_thread
    assert checked.params["text"].startswith("fpcheck no-referral@example.com: FAIL")
    assert "Run again" not in all_text(checked.params["blocks"])


def test_every_entry_point_is_denied_the_same_way_with_one_audit_line_each(
    make_harness: Callable[..., Harness], clean_sandbox, caplog
) -> None:
    caplog.set_level(logging.INFO)
    bot = make_harness(fpcheck_allowed_users="U0ALICE")
    who = "can be run only by <@U0ALICE>"
    assert who in bot.command("healthy@example.com", user="U0MALLORY").json()["text"]
    ts = bot.slack.add_message("C0GENERAL", "x")
    bot.event(mention("healthy@example.com", user="U0MALLORY", ts=ts))
    again = with_button(RERUN_ACTION_ID, Rerun("healthy@example.com", None, "U0ALICE").to_value())
    bot.action(button_payload(again, channel="C0GENERAL", user="U0MALLORY", response_url=bot.slack.response_url("r")))
    check = with_button(sweep.CHECK_ACTION_ID, "healthy@example.com", thread_ts=ts)
    bot.action(button_payload(check, channel="C0GENERAL", user="U0MALLORY", response_url=bot.slack.response_url("c")))

    lines = audit_lines(caplog, bot)
    assert sorted(line["via"] for line in lines) == ["button", "command", "mention", "sweep_check"]
    assert {line["outcome"] for line in lines} == {"denied"}
    whispers = bot.slack.of("chat.postEphemeral")  # the mention and the Check button
    assert len(whispers) == 2 and all(who in w.params["text"] and w.params["thread_ts"] == ts for w in whispers)
    (told,) = bot.slack.of("response_url")  # Run again: privately, leaving the report as it was
    assert who in told.params["text"] and told.params["replace_original"] is False
    assert "chat.postMessage" not in bot.slack.methods() and clean_sandbox.stripe.calls() == []


def test_a_failed_check_button_is_audited_with_the_reference_it_whispers(bot: Harness, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot.slack.fail("chat.postMessage", "fatal_error")
    ts = bot.slack.add_message("C0GENERAL", "(a sweep's breakdown)")
    pressed = with_button(sweep.CHECK_ACTION_ID, "healthy@example.com", thread_ts=ts)
    bot.action(button_payload(pressed, channel="C0GENERAL", user="U0BOB", response_url=bot.slack.response_url()))
    (whisper,) = bot.slack.wait_for("chat.postEphemeral", 1)
    ref = REF.search(whisper.params["text"]).group(1)
    (line,) = audit_lines(caplog, bot)
    assert line["via"] == "sweep_check" and line["outcome"] == "failed" and line["ref"] == ref
    assert line["verdict"] == "pass" and line["detail"] == "Slack answered fatal_error"  # checked; not delivered
    assert any(ref in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_a_check_button_queued_past_its_deadline_is_not_checked(
    make_harness: Callable[..., Harness], slack: SlackStandIn, clean_sandbox, caplog
) -> None:
    caplog.set_level(logging.INFO)
    engine = Engine(clean_sandbox.settings(fpcheck_deadline=1.0))
    settings = load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                   slack_api_base_url=slack.api_url)
    one_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="one")
    bot = make_harness(app=build_app(settings, engine, executor=one_worker))
    one_worker.submit(time.sleep, 2.0)  # the only worker is busy for twice the deadline
    ts = slack.add_message("C0GENERAL", "(a sweep's breakdown)")
    pressed = with_button(sweep.CHECK_ACTION_ID, "healthy@example.com", thread_ts=ts)
    bot.action(button_payload(pressed, channel="C0GENERAL", user="U0BOB", response_url=slack.response_url()))

    (line,) = audit_lines(caplog, bot)
    assert line["via"] == "sweep_check" and line["outcome"] == "expired" and line["duration_ms"] >= 1000
    (whisper,) = slack.of("chat.postEphemeral")
    assert "too busy to check healthy@example.com" in whisper.params["text"]
    assert clean_sandbox.stripe.calls() == [] and "chat.postMessage" not in slack.methods()


# ---------------------------------------------------------------- the listeners, called directly


@pytest.fixture
def client(slack: SlackStandIn) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


def test_the_listeners_are_plain_functions(slack: SlackStandIn, client: WebClient, engine: Engine, caplog) -> None:
    caplog.set_level(logging.INFO)
    service = Service(engine)
    acks: list[dict] = []
    context: dict[str, Any] = {"team_id": TEAM_ID}
    asked = {"text": "no-referral@example.com", "user_id": "U0ALICE", "channel_id": "C0GENERAL"}

    command.ack_command(service, lambda **answer: acks.append(answer), asked, context)
    assert acks == [{"response_type": "ephemeral", "text": ":hourglass_flowing_sand: Checking no-referral@example.com…"}]
    command.run_command(service, client, Respond(response_url=slack.response_url("cmd")), context)
    parent, threaded = slack.of("chat.postMessage")
    assert threaded.params["thread_ts"] == parent_ts(slack)

    report = slack.messages[("C0GENERAL", threaded_ts(slack))]
    body = button_payload(report, channel="C0GENERAL", user="U0BOB", response_url=slack.response_url("again"))
    actions.run_again(service, body, body["actions"][0], client, Respond(response_url=body["response_url"]), context)
    assert len(slack.of("chat.update")) == 2  # the report and its parent

    ts = slack.add_message("C0GENERAL", "x")
    mention_face.run_mention(service, mention("healthy@example.com", ts=ts), client, context)
    assert slack.of("chat.postMessage")[-1].params["thread_ts"] == ts

    body = button_payload(with_button(sweep.CHECK_ACTION_ID, "healthy@example.com", thread_ts=ts),
                          channel="C0GENERAL", user="U0CAROL", response_url=slack.response_url("check"))
    sweep.run_check(service, body, body["actions"][0], client, context)
    assert slack.of("chat.postMessage")[-1].params["thread_ts"] == ts

    assert [line["via"] for line in audit_lines(caplog)] == ["command", "button", "mention", "sweep_check"]

    # bad input: answered by the face, nothing run, no audit line (nothing was asked)
    command.ack_command(service, lambda **answer: acks.append(answer), {**asked, "text": "jane at example"}, {})
    assert acks[-1]["text"].startswith(":thinking_face: ")
    assert len(audit_lines(caplog)) == 4


def parent_ts(slack: SlackStandIn) -> str:
    return next(ts for (_, ts), m in slack.messages.items() if "thread_ts" not in m and m.get("bot_id"))


def threaded_ts(slack: SlackStandIn) -> str:
    return next(ts for (_, ts), m in slack.messages.items() if m.get("thread_ts"))


# ---------------------------------------------------------------- a new face


@dataclass
class Postcard:
    """A whole new face's renderer: what it would write to the asker, as plain lines."""

    written: list[str] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)

    def unreadable(self, problem: str | None) -> None:
        self.written.append(f"usage ({problem})")

    def denied(self, denied: Denied) -> None:
        self.written.append("only " + ", ".join(sorted(denied.users)))

    def deliver(self, request: Request, report: Report) -> Delivery:
        self.reports.append(report)
        self.written.append(fallback_text(report))
        return DELIVERED

    def too_late(self, request: Request, waited: float) -> None:
        self.written.append("too late")

    def failed(self, request: Request) -> None:
        self.written.append(f"failed, reference {request.ref}")

    def reason(self, exc: Exception) -> str:
        return type(exc).__name__


POSTCARD = cast(audit.Via, "postcard")  # a real new face adds its name to audit.Via


def test_a_new_face_is_a_listener_and_a_renderer(slack: SlackStandIn, client: WebClient, engine: Engine,
                                                 caplog) -> None:
    caplog.set_level(logging.INFO)
    service = Service(engine)
    ts = slack.add_message("C0GENERAL", "x")
    mention_face.run_mention(service, mention("no-referral@example.com", ts=ts), client, {"team_id": TEAM_ID})
    (slack_post,) = slack.of("chat.postMessage")

    card = Postcard()
    asker = Asker("U0ALICE", "C0GENERAL")
    got = service.ask(POSTCARD, asker, read("no-referral@example.com"), time.monotonic(), card)
    # the same report the Slack face got: the same text and blocks, but for the time it took
    assert got is not None and card.reports == [got] and card.written == [slack_post.params["text"]]
    blocks = report_blocks(got, asked_by="U0ALICE", rerun=Rerun("no-referral@example.com", None, "U0ALICE"))
    assert blocks[:-1] == slack_post.params["blocks"][:-1]

    lines = audit_lines(caplog)
    assert [(line["via"], line["outcome"], line["cause"]) for line in lines] == [
        ("mention", "delivered", "fp.referral"), ("postcard", "delivered", "fp.referral")]

    # and the rest of the request comes with it: usage, the allow-list, the audit line
    assert service.ask(POSTCARD, asker, read("jane at example"), time.monotonic(), card) is None
    guarded = Service(engine, allowed_users=frozenset({"U0CAROL"}))
    assert guarded.ask(POSTCARD, asker, read("healthy@example.com"), time.monotonic(), card) is None
    assert card.written[1].startswith("usage (") and card.written[2] == "only U0CAROL"
    assert audit_lines(caplog)[-1]["outcome"] == "denied" and len(audit_lines(caplog)) == 3


def test_no_slack_listener_writes_an_audit_line_or_handles_the_deadline_itself() -> None:
    # the run → deliver → too late → failed skeleton and the audit line live in bot/service.py only
    slack_dir = Path(command.__file__).parent
    for path in sorted(slack_dir.glob("*.py")):
        text = path.read_text()
        for what in ("audit.record", "from bot import audit", "TooLate", "engine.check", "service.check("):
            assert what not in text, f"{path.name} has {what}"
