"""`/fpcheck sweep 31d` in Slack, against the Slack stand-in and a seeded month."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sweep_demo import month_settings
from checks.engine import Engine
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import StripeStandIn
from tests.bot.slack_harness import Harness, all_text, button_payload


@pytest.fixture(scope="module")
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn, dict[str, str]]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    truth = seed_month(stripe, fp, invoices=120, referrals=60, commissions=30, lost=6)
    with stripe, fp:
        yield stripe, fp, truth.lost


@pytest.fixture
def sweep_bot(slack, month) -> Iterator[Harness]:  # type: ignore[no-untyped-def]
    stripe, fp, _ = month
    h = Harness(slack, Engine(month_settings(stripe, fp)))
    yield h
    h.close()


def test_sweep_command_posts_summary_then_breakdown_with_check_buttons(sweep_bot: Harness, month) -> None:
    _, _, truth = month
    answer = sweep_bot.command("sweep 31d")
    assert answer.status == 200 and answer.seconds < 1.0
    assert "Sweeping the last 31 days" in answer.json()["text"]
    parent, thread = sweep_bot.slack.wait_for("chat.postMessage", 2, timeout=60)
    assert "<@U0ALICE> swept the last 31 days" in parent.params["text"]
    assert "6 look lost" in parent.params["text"] and "× lead.uid" in parent.params["text"]
    parent_ts = next(ts for (ch, ts), m in sweep_bot.slack.messages.items() if "thread_ts" not in m)
    assert thread.params["thread_ts"] == parent_ts
    blocks = thread.params["blocks"]
    text = all_text(blocks)
    for check in set(truth.values()):
        assert f"*{check}*" in text
    buttons = [b["accessory"] for b in blocks if "accessory" in b]
    assert len(buttons) == 6 and {b["text"]["text"] for b in buttons} == {"Check"}
    # pressing one posts that person's full report in the thread
    message = {"ts": "1.1", "thread_ts": parent_ts,
               "blocks": [{"type": "actions", "elements": [buttons[0]]}]}
    payload = button_payload(message, channel="C0GENERAL", user="U0BOB",
                             response_url=sweep_bot.slack.response_url("btn"))
    assert sweep_bot.action(payload).status == 200
    report = sweep_bot.slack.wait_for("chat.postMessage", 3, timeout=60)[-1]
    assert report.params["thread_ts"] == parent_ts
    assert report.params["text"].startswith(f"fpcheck {buttons[0]['value']}: FAIL")


def test_bad_sweep_period_gets_usage_and_nothing_runs(sweep_bot: Harness) -> None:
    answer = sweep_bot.command("sweep forever")
    assert answer.status == 200 and "Usage: `/fpcheck sweep 7d`" in answer.json()["text"]
    assert [m for m in sweep_bot.slack.methods() if m == "chat.postMessage"] == []


def test_help_lists_the_sweep_and_a_dotted_email_is_a_check_not_a_sweep(sweep_bot: Harness) -> None:
    assert "`/fpcheck sweep 7d`" in sweep_bot.command("help").json()["text"]
    answer = sweep_bot.command("sweep.jones@example.com")
    assert answer.status == 200
    said = answer.json()["text"]
    assert "Sweeping" not in said and "Usage: `/fpcheck sweep" not in said
    assert "sweep.jones@example.com" in said  # "Checking sweep.jones@example.com…"
