"""FPCHECK_DEADLINE holds per Slack command, counted from when Slack's request arrived: time spent
waiting for a free worker counts, and a command whose deadline passed in the queue is not checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_harness import BOT_TOKEN, SIGNING_SECRET, Harness
from stand_ins.slack_api import SlackStandIn

from bot.app import build_app
from bot.slack_settings import load_slack_settings
from checks.engine import Engine


def test_a_command_queued_past_its_deadline_is_not_checked(
    make_harness: Callable[..., Harness], slack: SlackStandIn, clean_sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    clean_sandbox.fp.latency = 0.8  # each check runs into its 1.2 s deadline
    engine = Engine(clean_sandbox.settings(fpcheck_deadline=1.2))
    settings = load_slack_settings(
        _env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_base_url=slack.api_url
    )
    one_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="one")
    bot = make_harness(app=build_app(settings, engine, executor=one_worker))

    for i in range(3):
        assert bot.command("healthy@example.com", channel=f"C0Q{i}", hook=f"q{i}").status == 200
    bot.drain()

    lines = {line["channel"]: line for r in caplog.records if r.name == "fpcheck.audit"
             for line in [json.loads(r.getMessage())]}
    # the first ran (within its deadline); the others waited for it until their deadlines had passed
    first, third = lines["C0Q0"], lines["C0Q2"]
    assert first["outcome"] in ("delivered", "fallback") and first["engine_ms"] < 3000
    assert lines["C0Q1"]["outcome"] == third["outcome"] == "expired" and "verdict" not in third
    assert third["duration_ms"] >= 1100  # the time it spent queued is counted
    told = [c for c in slack.calls if c.method == "response_url" and "/q2" in c.path]
    assert told and "too busy" in json.dumps(told[-1].params)
    # nobody posted a report for it
    assert not any(c.params.get("channel") == "C0Q2" for c in slack.calls if c.method == "chat.postMessage")
