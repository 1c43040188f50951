"""A FirstPromoter v1 account in Slack: /fpcheck checks as on v2 (through the v1 reader), and
/fpcheck sweep says in words that it needs a v2 account instead of failing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_harness import Harness
from stand_ins.slack_api import SlackStandIn

from checks.engine import Engine
from sandbox.runner import Sandbox


@pytest.fixture(scope="module")
def v1_engine() -> Iterator[Engine]:
    with Sandbox(fp="v1") as sb:
        yield Engine(sb.settings())


def test_a_sweep_on_a_v1_account_is_answered_in_words(slack: SlackStandIn, v1_engine: Engine) -> None:
    bot = Harness(slack, v1_engine)
    try:
        said = bot.command("sweep 7d").json()
        checked = bot.command("healthy@example.com").json()["text"]
        bot.drain()
    finally:
        bot.close()
    assert said["response_type"] == "ephemeral"
    assert said["text"].startswith(":information_source: A sweep needs a FirstPromoter v2 account")
    assert "Checking" in checked
    (_, report) = slack.wait_for("chat.postMessage", 2)
    assert "5872407-possible-stripe-integration-issues" in str(report.params)  # the v1 article


def test_no_fix_button_on_a_v1_account(slack: SlackStandIn, v1_engine: Engine) -> None:
    from slack_harness import BOT_TOKEN, SIGNING_SECRET

    from bot.slack.app import build_app
    from bot.slack.fix import FIX_ACTION_ID
    from bot.slack.settings import load_slack_settings
    from checks.fix.settings import load_fix_settings

    settings = load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                                   slack_api_base_url=slack.api_url)
    fixes = load_fix_settings(_env_file=None, fpcheck_allow_fixes="true", fpcheck_fix_users="U0ALICE")
    bot = Harness(slack, v1_engine, app=build_app(settings, v1_engine, fixes=fixes))
    try:
        bot.command("uid-mismatch@example.com")
        (_, report) = slack.wait_for("chat.postMessage", 2)
    finally:
        bot.close()
    assert "uid" in str(report.params["text"]).lower() or report.params["blocks"]
    assert FIX_ACTION_ID not in str(report.params["blocks"])
    assert "Run again" in str(report.params["blocks"])
