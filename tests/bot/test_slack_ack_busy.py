"""A command is acknowledged at once even when every worker is busy running earlier checks.

Bolt, by default, runs the ack function on the same pool as the lazy listeners (the checks) and
polls for it; a full pool then made acks wait for whole checks (bench/slack_load.py: 19 of a burst
of 50 acknowledged within Slack's 3 s).  build_app acks in the request's own thread instead.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slack_harness import BOT_TOKEN, SIGNING_SECRET, Harness
from stand_ins.slack_api import SlackStandIn

from bot.slack.app import build_app
from bot.slack.settings import load_slack_settings
from checks.engine import Engine
from sandbox.scenarios import SCENARIOS


def test_acks_do_not_wait_for_running_checks(
    make_harness: Callable[..., Harness], slack: SlackStandIn, engine: Engine, clean_sandbox
) -> None:
    clean_sandbox.fp.latency = 0.5  # a check takes about 1.5 s: 3 dependent FirstPromoter/Stripe calls
    settings = load_slack_settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=slack.api_url,
    )
    two_workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="busy")
    bot = make_harness(app=build_app(settings, engine, executor=two_workers))

    answers = [
        bot.command(s.email, channel=f"C0BUSY{i:02d}", hook=f"busy{i}") for i, s in enumerate(SCENARIOS[:4])
    ]

    # commands 3 and 4 arrive while both workers are running the first two checks
    assert [a.status for a in answers] == [200] * 4
    assert all("Checking" in a.text for a in answers)
    assert max(a.seconds for a in answers) < 0.5, [round(a.seconds, 2) for a in answers]
    # and every check still runs, on the pool, after its ack
    replies = bot.slack.wait_for("chat.postMessage", 8, timeout=30)
    assert sum(1 for c in replies if c.params.get("thread_ts")) == 4
