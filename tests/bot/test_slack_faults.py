"""Slack Web API faults while delivering a report: the asker still hears, the checks still ran,
nothing is retried without bound, and no secret leaks.

Each fault hits `chat.postMessage` (the channel post) for a signed `/fpcheck healthy@example.com`:
the report must then reach the asker privately through the command's response_url.  Where even
that is impossible (Slack unreachable altogether), the bot gives up within a bound and logs a
reference id, and the audit line carries the same id.  Mentions have no response_url: a failed
post is whispered with a reference id, or, with Slack unreachable, logged with one.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from slack_harness import BOT_TOKEN, SIGNING_SECRET, Harness, all_text, mention
from stand_ins.slack_api import SlackStandIn

from sandbox import scenarios as sc

EMAIL = "healthy@example.com"
MAX_CALLS = 3  # per Slack method, for one command
SECRETS = (BOT_TOKEN, SIGNING_SECRET, sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY, sc.FP_API_KEY)
REF = re.compile(r"Reference `([0-9a-f]{8})`")


def closed_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# ---------------------------------------------------------------- the faults


@dataclass(frozen=True)
class Fault:
    name: str
    apply: Callable[[SlackStandIn, Harness], None]  # called after the app started
    reason: str  # what the private report's note (or the audit line) names as the problem
    posts: int  # chat.postMessage calls the stand-in should see (0: it never reached it)
    slack_timeout: float | None = None


def _inject(**kwargs: Any) -> Callable[[SlackStandIn, Harness], None]:
    def apply(slack: SlackStandIn, bot: Harness) -> None:
        slack.inject("chat.postMessage", **kwargs)  # until the test ends

    return apply


def _revoke_token(slack: SlackStandIn, bot: Harness) -> None:
    slack.bot_token = "xoxb-9999-8888-someOtherToken"  # the app was reinstalled: ours is dead


def _drop_scope(slack: SlackStandIn, bot: Harness) -> None:
    slack.scopes.discard("chat:write")  # an admin removed the scope after start-up


def _api_unreachable(slack: SlackStandIn, bot: Harness) -> None:
    # Bolt copies app.client's base_url into each listener's client
    bot.app.client.base_url = closed_url()


FAULTS = [
    Fault("timeout", _inject(delay=1.5), "timeout", 1, slack_timeout=0.5),
    Fault("connection-refused", _api_unreachable, "unreachable", 0),
    Fault("http-500", _inject(status=500, body="Internal Server Error"), "not JSON", 1),
    Fault("http-500-json", _inject(status=500, body={"ok": False, "error": "fatal_error"}), "fatal_error", 1),
    Fault("429-retry-after", _inject(status=429, body={"ok": False, "error": "ratelimited"},
                                     headers={"Retry-After": "1"}), "ratelimited", 3),
    Fault("429-no-retry-after", _inject(status=429, body={"ok": False, "error": "ratelimited"}),
          "ratelimited", 3),
    Fault("malformed-json", _inject(malformed=True), "not JSON", 1),
    Fault("http-401-invalid-auth", _inject(status=401, body={"ok": False, "error": "invalid_auth"}),
          "invalid_auth", 1),
    Fault("token-revoked", _revoke_token, "invalid_auth", 1),
    Fault("http-403-missing-scope", _inject(status=403, body={"ok": False, "error": "missing_scope",
                                                               "needed": "chat:write"}), "missing_scope", 1),
    Fault("scope-removed", _drop_scope, "missing_scope", 1),
    Fault("not-allowed-token-type", _inject(body={"ok": False, "error": "not_allowed_token_type"},
                                            status=200), "not_allowed_token_type", 1),
]  # fmt: skip


# ---------------------------------------------------------------- helpers


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def logged_refs(caplog: pytest.LogCaptureFixture) -> set[str]:
    """Reference ids in fpcheck's own error lines: one failure should carry one id."""
    return {
        ref
        for r in caplog.records
        if r.name == "fpcheck.slack" and r.levelno >= logging.ERROR
        for ref in re.findall(r"\bref ([0-9a-f]{8})\b", r.getMessage())
    }


def assert_no_secrets(slack: SlackStandIn, caplog: pytest.LogCaptureFixture) -> None:
    recorded = json.dumps([c.params for c in slack.calls])  # Web API calls and response_url bodies
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text  # caplog.text: tracebacks
    for secret in SECRETS:
        for where, text in (("a recorded Slack call", recorded), ("the logs", logged)):
            assert secret not in text, f"a secret reached {where}"
            assert secret[-16:] not in text, f"part of a secret reached {where}"


def assert_bounded(slack: SlackStandIn) -> None:
    per_method = Counter(slack.methods())
    assert all(n <= MAX_CALLS for n in per_method.values()), per_method


def assert_healthy_report(blocks: list[dict]) -> None:
    """The delivered report is the engine's real run: every check passed for healthy@example.com."""
    header = next(b for b in blocks if b["type"] == "header")
    assert header["text"]["text"] == f"fpcheck: {EMAIL}"
    text = all_text(blocks)
    assert ":white_check_mark: Every check passed." in text
    assert ":x:" not in text and ":exclamation:" not in text
    assert text.count(":white_check_mark: *") >= 5  # one line per check that ran and passed


# ---------------------------------------------------------------- /fpcheck


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_command_report_reaches_the_asker_when_the_channel_post_fails(
    make_harness: Callable[..., Harness], slack: SlackStandIn, clean_sandbox, caplog, fault: Fault
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = make_harness(slack_timeout=fault.slack_timeout)
    fault.apply(slack, bot)
    started = time.monotonic()
    answer = bot.command(EMAIL, hook="asker")
    assert answer.status == 200 and "Checking" in answer.json()["text"]

    (hook,) = slack.wait_for("response_url", 1, timeout=15)
    bot.drain()
    assert time.monotonic() - started < 10  # bounded: no retry loop, no long wait
    assert hook.path == "/response/asker"
    assert hook.params["response_type"] == "ephemeral" and hook.params["replace_original"] is False
    assert_healthy_report(hook.params["blocks"])
    note = hook.params["blocks"][0]
    assert note.get("block_id") == "fpcheck_note" and fault.reason in note["text"]["text"]
    assert hook.params["text"].startswith(f"fpcheck {EMAIL}: PASS")
    assert clean_sandbox.stripe.calls() and clean_sandbox.fp.calls()  # the checks really ran

    assert slack.count("chat.postMessage") == fault.posts
    assert slack.count("response_url") == 1  # the report, once; no failure notice after it
    assert_bounded(slack)
    (line,) = audit_lines(caplog)
    assert line["outcome"] == "fallback" and fault.reason in line["detail"]
    assert line["verdict"] == "pass" and line["query"] == "h***@example.com"
    assert_no_secrets(slack, caplog)


def test_command_gives_up_with_a_logged_reference_when_slack_is_unreachable(
    make_harness: Callable[..., Harness], slack: SlackStandIn, clean_sandbox, caplog
) -> None:
    """Neither the Web API nor the response_url answers: nobody can be told, so the log must say."""
    caplog.set_level(logging.DEBUG)
    bot = make_harness()
    _api_unreachable(slack, bot)
    started = time.monotonic()
    assert bot.command(EMAIL, response_url=closed_url() + "response/gone").status == 200
    bot.drain()
    assert time.monotonic() - started < 10  # each refused connection retried once, then given up

    (line,) = audit_lines(caplog)
    assert line["outcome"] == "failed" and line["verdict"] == "pass"  # the checks ran; delivery failed
    ref = line["ref"]
    assert logged_refs(caplog) == {ref}, error_lines(caplog)  # one id for the operator to grep
    assert any(f"ref {ref}: could not tell U0ALICE either" in m for m in error_lines(caplog))
    assert clean_sandbox.stripe.calls()
    assert slack.methods() == ["auth.test"]  # nothing reached the stand-in after start-up
    assert_no_secrets(slack, caplog)


# ---------------------------------------------------------------- @fpcheck


MENTION_FAULTS = [f for f in FAULTS if f.name in ("timeout", "http-500", "malformed-json")]


@pytest.mark.parametrize("fault", MENTION_FAULTS, ids=[f.name for f in MENTION_FAULTS])
def test_mention_failure_is_whispered_with_a_reference_that_is_in_the_log(
    make_harness: Callable[..., Harness], slack: SlackStandIn, clean_sandbox, caplog, fault: Fault
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = make_harness(slack_timeout=fault.slack_timeout)
    fault.apply(slack, bot)
    ts = slack.add_message("C0GENERAL", "can you check this customer?")
    started = time.monotonic()
    assert bot.event(mention(EMAIL, ts=ts)).status == 200

    (whisper,) = slack.wait_for("chat.postEphemeral", 1, timeout=15)
    bot.drain()
    assert time.monotonic() - started < 10
    assert whisper.params["user"] == "U0ALICE" and whisper.params["thread_ts"] == ts
    ref = REF.search(whisper.params["text"]).group(1)
    assert logged_refs(caplog) == {ref}
    (line,) = audit_lines(caplog)
    assert line["ref"] == ref and line["outcome"] == "failed" and line["verdict"] == "pass"
    assert slack.count("chat.postMessage") == fault.posts
    assert_bounded(slack)
    assert_no_secrets(slack, caplog)


def test_mention_gives_up_with_a_logged_reference_when_slack_is_unreachable(
    make_harness: Callable[..., Harness], slack: SlackStandIn, clean_sandbox, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = make_harness()
    ts = slack.add_message("C0GENERAL", "can you check this customer?")
    _api_unreachable(slack, bot)
    started = time.monotonic()
    assert bot.event(mention(EMAIL, ts=ts)).status == 200
    bot.drain()
    assert time.monotonic() - started < 10

    (line,) = audit_lines(caplog)
    assert line["outcome"] == "failed" and line["verdict"] == "pass"
    assert logged_refs(caplog) == {line["ref"]}, error_lines(caplog)
    assert slack.methods() == ["auth.test"]
    assert_no_secrets(slack, caplog)
