"""fpcheck's App Home, end to end: app_home_opened into the real Bolt app over signed loopback HTTP,
views.publish into the Slack stand-in, the dependency lines read from the seeded stand-ins; and the
per-person history behind "Your recent checks", in memory and in a real Redis."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from slack_harness import APP_ID, BOT_TOKEN, SIGNING_SECRET, Harness, all_text
from stand_ins.slack_api import TEAM_ID, SlackStandIn

from bot.slack.app import build_app
from bot.slack.history import PER_USER, Entry, MemoryHistory, RedisHistory
from bot.slack.home import HOME_CHECK_ACTION
from bot.slack.modal import MODAL
from bot.slack.settings import load_serve_settings
from bot.watch import FileWatchState
from checks.engine import Engine


def audit_lines(caplog: pytest.LogCaptureFixture, bot: Harness) -> list[dict]:
    bot.drain()
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]


def home_opened(user: str = "U0ALICE", tab: str = "home") -> dict:
    return {"type": "app_home_opened", "user": user, "channel": "D0ALICEFP", "tab": tab,
            "event_ts": f"{time.time():.6f}"}


def sections(view: dict) -> dict[str, str]:
    """The home's sections by block_id: what the person reads."""
    return {b["block_id"]: b["text"]["text"] for b in view["blocks"] if b["type"] == "section" and "block_id" in b}


def test_the_home_shows_what_fpcheck_sees_and_the_askers_recent_checks(bot: Harness, clean_sandbox,
                                                                       caplog) -> None:
    caplog.set_level(logging.INFO)
    assert bot.event(home_opened()).status == 200
    (publish,) = bot.slack.wait_for("views.publish", 1)
    assert publish.params["user_id"] == "U0ALICE"
    view = bot.slack.home["U0ALICE"]
    assert view["type"] == "home" and view["id"].startswith("V")
    shown = sections(view)
    status = shown["fpcheck_home_status"].splitlines()
    assert status[0] == "*What fpcheck sees*"
    assert status[1] == ":white_check_mark: Slack ok: bot fpcheck in workspace fpcheck test, HTTP"
    assert status[2].startswith(":white_check_mark: Stripe ok: test key of account acct_")
    assert status[3].startswith(":white_check_mark: Stripe (other mode) ok: live key of account acct_")
    assert status[4].startswith(":white_check_mark: FirstPromoter ok: account ")
    assert len(status) == 5  # no Redis in this sandbox: one line per dependency, as `fpcheck doctor`
    jobs = shown["fpcheck_home_jobs"]
    assert "Digest: off (FPCHECK_SWEEP_CHANNEL is not set)" in jobs
    assert "Payment watch: off (FPCHECK_WATCH_CHANNEL is not set)" in jobs
    assert "None yet" in shown["fpcheck_home_recent"]
    intro = next(b for b in view["blocks"] if b.get("block_id") == "fpcheck_home_intro")
    assert intro["accessory"]["action_id"] == HOME_CHECK_ACTION
    assert intro["accessory"]["text"]["text"] == "Check a customer"

    # a check from anywhere is then among the asker's recent checks, and only theirs
    bot.command("no-referral@example.com")
    bot.slack.wait_for("chat.postMessage", 2)
    deadline = time.monotonic() + 10  # the report is remembered once delivered, just before its audit line
    while not any(r.name == "fpcheck.audit" for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.02)
    stripe_reads = len(clean_sandbox.stripe.calls())
    bot.event(home_opened())
    bot.event(home_opened(user="U0BOB"))
    bot.slack.wait_for("views.publish", 3)
    bot.drain()
    recent = sections(bot.slack.home["U0ALICE"])["fpcheck_home_recent"]
    assert "• *no-referral@example.com*: :x: fail (fp.referral) · just now" in recent
    assert "None yet" in sections(bot.slack.home["U0BOB"])["fpcheck_home_recent"]
    # the dependency lines are reused for a minute: opening the home is not a load on Stripe
    assert len(clean_sandbox.stripe.calls()) == stripe_reads


def test_the_homes_button_opens_the_check_a_customer_modal(bot: Harness) -> None:
    bot.event(home_opened())
    bot.slack.wait_for("views.publish", 1)
    view = bot.slack.home["U0ALICE"]
    payload = {"type": "block_actions", "user": {"id": "U0ALICE", "username": "alice", "team_id": TEAM_ID},
               "api_app_id": APP_ID, "token": "legacy-verification-token", "trigger_id": "77.88.home",
               "container": {"type": "view", "view_id": view["id"]}, "team": {"id": TEAM_ID, "domain": "x"},
               "view": view, "actions": [{"action_id": HOME_CHECK_ACTION, "block_id": "fpcheck_home_intro",
                                          "type": "button", "action_ts": f"{time.time():.6f}",
                                          "text": {"type": "plain_text", "text": "Check a customer"}}]}
    assert bot.action(payload).status == 200
    (opened,) = bot.slack.wait_for("views.open", 1)
    assert opened.params["trigger_id"] == "77.88.home" and opened.params["view"]["callback_id"] == MODAL


def test_the_messages_tab_and_a_retried_event_publish_nothing_more(bot: Harness) -> None:
    bot.event(home_opened(tab="messages"))
    bot.event(home_opened(), event_id="Ev0HOME0001")
    bot.event(home_opened(), event_id="Ev0HOME0001", retry_num=1)  # Slack's retry of the same event
    bot.drain()
    assert bot.slack.count("views.publish") == 1


def test_a_refused_user_sees_why_and_the_refusal_is_audited(make_harness: Callable[..., Harness], clean_sandbox,
                                                            caplog) -> None:
    caplog.set_level(logging.INFO)
    bot = make_harness(fpcheck_allowed_users="U0CAROL", fpcheck_allowed_channels="C0SUPPORT")
    bot.event(home_opened())
    bot.slack.wait_for("views.publish", 1)
    text = all_text(bot.slack.home["U0ALICE"]["blocks"])
    assert text == ":no_entry: fpcheck can be run only by <@U0CAROL>. Ask one of them, or ask an admin to add you."
    (line,) = audit_lines(caplog, bot)
    assert (line["via"], line["outcome"], line["user"]) == ("home", "denied", "U0ALICE")
    assert clean_sandbox.stripe.calls() == [] and clean_sandbox.fp.calls() == []


def test_a_channel_allow_list_does_not_hide_the_home(make_harness: Callable[..., Harness]) -> None:
    bot = make_harness(fpcheck_allowed_channels="C0SUPPORT")
    bot.event(home_opened())
    bot.slack.wait_for("views.publish", 1)
    assert "*What fpcheck sees*" in sections(bot.slack.home["U0ALICE"])["fpcheck_home_status"]


def test_the_home_shows_the_next_digest_and_the_watchs_state(slack: SlackStandIn, engine: Engine, clean_sandbox,
                                                             tmp_path: Any) -> None:
    state_file = tmp_path / "state.json"
    watch = FileWatchState(state_file)
    watch.set_cursor(1_767_225_600)  # 2026-01-01 00:00 UTC
    watch.add_pending("sale:1", 1_767_225_900, [])
    settings = load_serve_settings(
        _env_file=None, **{k.lower(): v for k, v in clean_sandbox.env().items()},
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_base_url=slack.api_url,
        fpcheck_sweep_channel="C0DIGEST", fpcheck_sweep_cron="0 9 * * 1", fpcheck_tz="Europe/Paris",
        fpcheck_watch_channel="C0WATCH", fpcheck_watch_delay="600", fpcheck_state_file=str(state_file))
    bot = Harness(slack, engine, app=build_app(settings, engine))
    try:
        bot.event(home_opened())
        slack.wait_for("views.publish", 1)
        jobs = sections(slack.home["U0ALICE"])["fpcheck_home_jobs"].splitlines()
    finally:
        bot.close()
    assert jobs[1].startswith(":calendar: Digest: next Mon ") and "09:00 (Europe/Paris) in <#C0DIGEST>" in jobs[1]
    assert jobs[1].endswith("; none posted yet")
    assert jobs[2] == (":eyes: Payment watch: on, alerts in <#C0WATCH>, each payment checked 10 min after it is "
                       "made; Stripe's events read up to 2026-01-01 00:00 UTC; 1 payment waiting to be checked")


# ---------------------------------------------------------------- the history behind it


def entry(i: int, at: float | None = None) -> Entry:
    return Entry(f"p{i}@example.com", "fail", "fp.referral", time.time() if at is None else at, "command")


def test_the_memory_history_is_bounded_per_person_and_in_people_and_expires() -> None:
    now = [1_000_000.0]
    h = MemoryHistory(max_users=3, clock=lambda: now[0])
    for i in range(PER_USER + 5):
        h.add("U1", entry(i, now[0]))
    assert [e.query for e in h.recent("U1")] == [f"p{i}@example.com" for i in range(PER_USER + 4, 4, -1)]
    for u in ("U2", "U3", "U4"):
        h.add(u, entry(0, now[0]))
    assert h.recent("U1") == []  # the least recently active forgotten first
    now[0] += 8 * 86_400
    assert h.recent("U4") == []  # older than a week


def test_the_redis_history_is_shared_bounded_and_expires(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    one, other = RedisHistory(client, prefix="fpcheck:test-history:"), RedisHistory(client, prefix="fpcheck:test-history:")
    client.delete("fpcheck:test-history:U1")
    for i in range(PER_USER + 3):
        one.add("U1", entry(i))
    got = other.recent("U1")  # another replica sees the same list
    assert len(got) == PER_USER and got[0].query == f"p{PER_USER + 2}@example.com"
    assert 0 < client.ttl("fpcheck:test-history:U1") <= 7 * 86_400
    client.rpush("fpcheck:test-history:U1", "not json")
    assert len(other.recent("U1")) == PER_USER  # what is not ours is skipped


def test_redis_not_answering_costs_the_history_never_the_check() -> None:
    import redis

    dead = RedisHistory(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    dead.add("U1", entry(0))
    assert dead.recent("U1") == []


def test_upstream_names_on_the_home_are_escaped(bot: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    real = bot.slack._m_auth_test

    def hostile(p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        status, body, headers = real(p)
        return status, {**body, "team": "<!channel> Acme\u202e"}, headers

    monkeypatch.setattr(bot.slack, "_m_auth_test", hostile)
    bot.event(home_opened())
    bot.slack.wait_for("views.publish", 1)
    status = sections(bot.slack.home["U0ALICE"])["fpcheck_home_status"]
    assert "<!channel>" not in status and "&lt;!channel&gt; Acme\\u202e" in status
    assert all(b["text"].get("verbatim") for b in bot.slack.home["U0ALICE"]["blocks"]
               if b["type"] == "section" and b["text"]["type"] == "mrkdwn")
