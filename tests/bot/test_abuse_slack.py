"""The Slack face against abuse, through the signed-HTTP harness (the Bolt app behind a real HTTP
server on 127.0.0.1, the Slack stand-in, the seeded sandbox): reply addresses, floods, requests for
another workspace or app, replays, malformed payloads, and text Slack would turn into links."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_harness import APP_ID, BOT_TOKEN, Harness, all_text, event_envelope, mention
from stand_ins.slack_api import TEAM_ID, Call, SlackStandIn

from bot.slack.reply import reply_address_ok
from bot.slack.settings import load_slack_settings
from checks.facts import Query
from checks.model import Evidence, Report, Result, Status, verdict_for


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]


def wait_until(slack: SlackStandIn, found: Callable[[Call], bool], timeout: float = 60.0) -> Call:
    """The first call `found` accepts, once the stand-in has it (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with slack._cond:
            hit = next((c for c in slack.calls if found(c)), None)
        if hit is not None:
            return hit
        time.sleep(0.02)
    raise AssertionError(f"no such call within {timeout:.0f} s; saw {slack.methods()}")


def command_body(text: str, slack: SlackStandIn, **fields: str) -> str:
    """A /fpcheck as Slack sends it (each with its own trigger_id), with `fields` overridden."""
    values = {"team_id": TEAM_ID, "channel_id": "C0GENERAL", "user_id": "U0ALICE", "command": "/fpcheck",
              "text": text, "api_app_id": APP_ID, "response_url": slack.response_url("cmd"),
              "trigger_id": f"{time.monotonic_ns()}.1.2"}
    values.update(fields)
    return urlencode(values)


FORM = "application/x-www-form-urlencoded"


# ---------------------------------------------------------------- reply addresses


def test_a_reply_goes_only_to_slack_s_own_hosts() -> None:
    settings = load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN)
    origins = settings.reply_origins
    assert origins == ("https://hooks.slack.com",)  # by default, nothing else: not even loopback
    for url in ("https://hooks.slack.com/commands/T0/1/abc", "https://HOOKS.slack.com/actions/T0/1/x"):
        assert reply_address_ok(url, origins), url
    for url in ("http://hooks.slack.com/commands/T0/1/abc", "https://hooks.slack.com.evil.example/x",
                "https://evil.example/?https://hooks.slack.com/", "https://x@hooks.slack.com/a",
                "https://evil.example\\@hooks.slack.com/", "https://hooks.slack.com:8443/a",
                "https://hooks.slack.com:bad/a", "http://169.254.169.254/latest/meta-data", "file:///etc/passwd",
                "https://hooks.slack.com /a", ""):
        assert not reply_address_ok(url, origins), url
    # a stand-in is allowed only by pointing SLACK_API_BASE_URL at it, explicitly
    local = load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN, slack_api_base_url="http://127.0.0.1:9/api")
    assert local.reply_origins == ("https://hooks.slack.com", "http://127.0.0.1:9")
    assert reply_address_ok("http://127.0.0.1:9/response/x", local.reply_origins)
    assert not reply_address_ok("http://127.0.0.1:10/response/x", local.reply_origins)


def test_a_report_is_never_sent_to_a_response_url_elsewhere(bot: Harness, slack: SlackStandIn, caplog) -> None:
    caplog.set_level(logging.INFO)
    slack.not_member["C0PRIVATE"] = "not_in_channel"  # so the report would go through the response_url
    with SlackStandIn(BOT_TOKEN) as elsewhere:  # another host (port) on loopback: not the configured one
        answer = bot.command("healthy@example.com", channel="C0PRIVATE", response_url=elsewhere.response_url("x"))
        assert answer.status == 200 and "Checking" in answer.json()["text"]
        bot.drain()
        assert elsewhere.calls == []
    assert "dropped a reply to a response_url on 127.0.0.1: not a Slack address" in caplog.text
    (line,) = audit_lines(caplog)
    assert line["outcome"] == "failed" and line["detail"] == "DeliveryError"


# ---------------------------------------------------------------- floods


def flood_then_time_another(bot: Harness, slack: SlackStandIn, n: int = 100,
                            timeout: float = 60.0) -> tuple[float, list[str]]:
    """`n` commands from one user within a few seconds, then another user's: seconds until that one's
    report is posted, and what the flooder was answered."""
    said = [bot.command("healthy@example.com", user="U0FLOOD", hook=f"flood{i}").json()["text"] for i in range(n)]
    asked = time.monotonic()
    assert "Checking" in bot.command("no-referral@example.com", user="U0OTHER", hook="other").json()["text"]
    report = wait_until(slack, lambda c: c.method == "chat.postMessage"
                        and str(c.params.get("text", "")).startswith("fpcheck no-referral@example.com"), timeout)
    return report.at - asked, said


def test_one_user_s_flood_is_answered_privately_and_others_stay_fast(bot: Harness, slack: SlackStandIn,
                                                                      caplog) -> None:
    caplog.set_level(logging.INFO)
    seconds, said = flood_then_time_another(bot, slack)
    print(f"\nanother user's report during a 100-command flood, with limits: {seconds:.2f} s")
    assert sum("Checking" in s for s in said) == 10
    refused = [s for s in said if "Checking" not in s]
    assert len(refused) == 90
    assert refused[0].startswith(":hourglass: You asked for 10 checks in the last minute; wait ")
    assert seconds < 3.0
    bot.drain()
    outcomes = [line["outcome"] for line in audit_lines(caplog) if line["user"] == "U0FLOOD"]
    assert outcomes.count("limited") == 90 and outcomes.count("delivered") == 10


def test_a_channel_has_a_limit_of_its_own(bot: Harness) -> None:
    said = [bot.command("healthy@example.com", user=f"U0MANY{i:02d}", hook=f"m{i}").json()["text"] for i in range(31)]
    assert sum("Checking" in s for s in said) == 30
    assert said[-1].startswith(":hourglass: This channel asked for 30 checks in the last minute; wait ")
    assert "Checking" in bot.command("healthy@example.com", channel="C0ELSEWHERE", user="U0MANY99").json()["text"]


def test_the_limits_are_settings(make_harness: Callable[..., Harness]) -> None:
    strict = make_harness(fpcheck_user_limit="3", fpcheck_channel_limit="0")
    said = [strict.command("healthy@example.com", hook=f"s{i}").json()["text"] for i in range(4)]
    assert ["Checking" in s for s in said] == [True, True, True, False]
    assert said[3].startswith(":hourglass: You asked for 3 checks in the last minute")
    off = make_harness(fpcheck_user_limit="0", fpcheck_channel_limit="0")
    assert all("Checking" in off.command("healthy@example.com", hook=f"o{i}").json()["text"] for i in range(15))


# ---------------------------------------------------------------- requests


def test_a_request_for_another_workspace_or_app_is_refused(make_harness: Callable[..., Harness],
                                                           slack: SlackStandIn, clean_sandbox, caplog) -> None:
    caplog.set_level(logging.INFO)
    bot = make_harness(slack_app_id=APP_ID)
    other_team = bot.post(command_body("healthy@example.com", slack, team_id="T0ELSEWHERE"), FORM)
    other_app = bot.post(command_body("healthy@example.com", slack, api_app_id="A0ANOTHER"), FORM)
    envelope = event_envelope(mention("healthy@example.com", ts=slack.add_message("C0GENERAL", "x")), "Ev0OTHER1")
    envelope["team_id"] = envelope["authorizations"][0]["team_id"] = "T0ELSEWHERE"
    body = json.dumps(envelope)
    other_event = bot.post(body, "application/json")
    assert (other_team.status, other_app.status, other_event.status) == (403, 403, 403)
    assert "refused a request for workspace T0ELSEWHERE" in caplog.text
    assert "refused a request for app A0ANOTHER" in caplog.text
    ours = bot.post(command_body("healthy@example.com", slack), FORM)
    assert ours.status == 200 and "Checking" in ours.json()["text"]
    bot.drain()
    assert slack.count("chat.postMessage") == 2  # ours only


def test_the_same_signed_request_replayed_is_answered_once(bot: Harness, slack: SlackStandIn) -> None:
    from slack_harness import signed_headers

    body = command_body("healthy@example.com", slack)
    headers = signed_headers(body, FORM)
    first, again, third = (bot.request("/slack/events", body, headers) for _ in range(3))
    assert first.status == 200 and "Checking" in first.json()["text"]
    assert (again.status, again.body, third.status, third.body) == (200, b"", 200, b"")
    fresh = bot.post(command_body("healthy@example.com", slack), FORM)  # the same text, asked again: answered
    assert "Checking" in fresh.json()["text"]
    bot.drain()
    assert slack.count("chat.postMessage") == 4


@pytest.mark.parametrize("body", ["payload=%7Bnot+json", "payload=%5B1%5D", "payload=null", "payload=%22x%22"])
def test_a_malformed_payload_is_a_400(bot: Harness, body: str, caplog) -> None:
    assert bot.post(body, FORM).status == 400
    assert bot.request("/slack/events", body, {"Content-Type": FORM}).status == 400  # unsigned: the same
    assert not [r for r in caplog.records if r.exc_info]


# ---------------------------------------------------------------- text Slack would auto-link

EVIL_NAME = "Ana https://evil.example/pay @here <!channel> #general \u202eli\u200bnk"


class CraftedEngine:
    """A report naming an upstream promoter whose name is a bare URL, mentions and bidi characters."""

    deadline = 20.0

    def check(self, query: Query, only: Iterable[str] | None = None) -> Report:
        results = (Result(id="fp.referral", title="FirstPromoter referral", status=Status.FAIL,
                          summary=f"Referred by {EVIL_NAME}", evidence=(Evidence(label="Promoter", value=EVIL_NAME),),
                          remediation=f"Ask {EVIL_NAME}"),)
        return Report(query=query.raw, verdict=verdict_for(results), checks=results)


def mrkdwn_objects(blocks: Any) -> list[dict]:
    found: list[dict] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found


def test_upstream_names_become_neither_links_nor_mentions(slack: SlackStandIn) -> None:
    bot = Harness(slack, CraftedEngine())  # type: ignore[arg-type]
    try:
        bot.command("jane@example.com")
        parent, report = slack.wait_for("chat.postMessage", 2)
    finally:
        bot.close()
    for call in (parent, report):
        texts = mrkdwn_objects(call.params["blocks"])
        assert texts and all(t.get("verbatim") is True for t in texts)  # no auto-linking, no @here parsing
    shown = all_text(report.params["blocks"]) + report.params["text"]
    assert "Ana https://evil.example/pay @here &lt;!channel&gt; #general \\u202eli\\u200bnk" in shown
    for raw in ("<!channel>", "\u202e", "\u200b", "<https://evil"):
        assert raw not in shown, raw
