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
