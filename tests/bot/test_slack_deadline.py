"""FPCHECK_DEADLINE holds per Slack command, counted from when Slack's request arrived: time spent
waiting for a free worker counts, and a command whose deadline passed in the queue is not checked."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_harness import BOT_TOKEN, SIGNING_SECRET, Harness
from stand_ins.slack_api import SlackStandIn

from bot.slack.app import build_app
from bot.slack.settings import load_slack_settings
from checks.engine import Engine


def test_a_command_queued_past_its_deadline_is_not_checked(
    make_harness: Callable[..., Harness], slack: SlackStandIn, clean_sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    engine = Engine(clean_sandbox.settings(fpcheck_deadline=1.0))
    settings = load_slack_settings(
        _env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_base_url=slack.api_url
    )
    one_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="one")
    bot = make_harness(app=build_app(settings, engine, executor=one_worker))
    one_worker.submit(time.sleep, 3.0)  # the only worker is busy for 3 s, three times the deadline

    for i in range(2):
        assert bot.command("healthy@example.com", channel=f"C0Q{i}", hook=f"q{i}").status == 200
    bot.drain()

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]
    assert sorted(line["channel"] for line in lines) == ["C0Q0", "C0Q1"]
    for line in lines:
        assert line["outcome"] == "expired" and "verdict" not in line
        assert line["duration_ms"] >= 1000  # the time spent queued is counted
    for i in range(2):
        told = [c for c in slack.calls if c.method == "response_url" and c.path.endswith(f"/q{i}")]
        assert told and "too busy" in json.dumps(told[-1].params)
    # not worked on: no report posted, no upstream read
    assert not [c for c in slack.calls if c.method == "chat.postMessage"]
    assert clean_sandbox.stripe.calls() == [] and clean_sandbox.fp.calls() == []
