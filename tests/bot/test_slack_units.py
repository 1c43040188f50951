"""The bot's small parts: settings, event dedupe, the audit line, parsing what people type."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from bot.audit import mask_email, record
from bot.slack.dedupe import MemorySeenStore
from bot.slack.settings import load_slack_settings
from bot.slack.text import parse_command_text, parse_mention_text
from checks.model import Report, Result, Status, verdict_for
from checks.settings import ConfigError

BOT_TOKEN = "xoxb-1111-2222-unitTestBotToken"


# ---------------------------------------------------------------- settings


def test_settings_defaults_and_lists() -> None:
    s = load_slack_settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="s3cret",
        fpcheck_allowed_channels=" C0SUPPORT, G0PRIVATE ,,",
        fpcheck_allowed_users="U0ALICE",
        slack_api_base_url="http://127.0.0.1:9/api",
    )
    assert s.mode == "http" and s.port == 3000
    assert s.allowed_channels == {"C0SUPPORT", "G0PRIVATE"} and s.allowed_users == {"U0ALICE"}
    assert s.slack_api_base_url == "http://127.0.0.1:9/api/"  # slack_sdk needs the trailing slash
    s.require_transport()
    assert (
        load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1-A-1-x").mode
        == "socket"
    )
    assert load_slack_settings(_env_file=None).allowed_channels == frozenset()


def test_settings_errors_name_the_setting_never_the_value() -> None:
    cases = {
        "SLACK_BOT_TOKEN": {"slack_bot_token": "xoxp-user-token-value"},
        "SLACK_APP_TOKEN": {"slack_app_token": "xoxb-not-an-app-token-value"},
        "FPCHECK_ALLOWED_CHANNELS": {"fpcheck_allowed_channels": "#support"},
        "PORT": {"port": 70000},
        "SLACK_API_BASE_URL": {"slack_api_base_url": "slack.com/api"},
    }
    for name, kwargs in cases.items():
        with pytest.raises(ConfigError) as exc:
            load_slack_settings(_env_file=None, **kwargs)
        message = str(exc.value)
        assert message.startswith(name), message
        assert "\n" not in message
        for value in kwargs.values():
            if isinstance(value, str) and "token" in value:
                assert value not in message


def test_transport_requirements() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        load_slack_settings(_env_file=None).require_transport()
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN).require_transport()
    # Socket Mode does not need the signing secret
    load_slack_settings(
        _env_file=None, slack_bot_token=BOT_TOKEN, slack_app_token="xapp-1-A-1-x"
    ).require_transport()


def test_secrets_not_in_repr() -> None:
    s = load_slack_settings(_env_file=None, slack_bot_token=BOT_TOKEN, slack_signing_secret="s3cret-signing")
    assert BOT_TOKEN not in repr(s) and "s3cret-signing" not in repr(s)


# ---------------------------------------------------------------- dedupe


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_dedupe_remembers_ten_minutes_then_forgets() -> None:
    clock = Clock()
    seen = MemorySeenStore(clock=clock)
    assert seen.first_time("Ev1")
    assert not seen.first_time("Ev1")
    clock.now += 599  # Slack's last retry comes ~5 minutes later: still remembered
    assert not seen.first_time("Ev1")
    clock.now += 2
    assert seen.first_time("Ev1")


def test_dedupe_is_bounded_and_refuses_short_ttl() -> None:
    seen = MemorySeenStore(max_items=3)
    for i in range(10):
        assert seen.first_time(f"Ev{i}")
    assert len(seen) == 3
    assert not seen.first_time("Ev9")
    assert seen.first_time("Ev0")  # the oldest were dropped
    with pytest.raises(ValueError):
        MemorySeenStore(ttl=60)


def test_dedupe_is_thread_safe() -> None:
    seen = MemorySeenStore()
    firsts: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait(timeout=5)
        for i in range(500):
            if seen.first_time(f"Ev{i}"):
                with lock:
                    firsts.append(f"Ev{i}")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(firsts) == sorted(f"Ev{i}" for i in range(500))


# ---------------------------------------------------------------- audit


def test_mask_email() -> None:
    assert mask_email("jane@example.com") == "j***@example.com"
    assert mask_email("J@x.io") == "J***@x.io"
    assert mask_email("cus_Q1a2B3c4") == "cus_Q1a2B3c4"
    assert mask_email("@example.com") == "@example.com"


def test_audit_is_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    results = (
        Result(id="a.b", title="A", status=Status.PASS, summary="ok"),
        Result(id="c.d", title="C", status=Status.FAIL, summary="no"),
    )
    rep = Report(query="jane@example.com", verdict=verdict_for(results), checks=results, duration_ms=42)
    with caplog.at_level(logging.INFO, logger="fpcheck.audit"):
        record(
            ref="abcd1234",
            via="command",
            user="U0ALICE",
            channel="C0GENERAL",
            team="T1",
            query="jane@example.com",
            outcome="delivered",
            report=rep,
            started=None,
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "fpcheck.audit"]
    assert len(lines) == 1 and "\n" not in lines[0]
    line = json.loads(lines[0])
    assert line == {
        "event": "fpcheck.run",
        "ref": "abcd1234",
        "via": "command",
        "user": "U0ALICE",
        "channel": "C0GENERAL",
        "team": "T1",
        "query": "j***@example.com",
        "outcome": "delivered",
        "verdict": "fail",
        "cause": "c.d",
        "statuses": {"pass": 1, "fail": 1},
        "engine_ms": 42,
    }
    assert "jane@" not in lines[0]


# ---------------------------------------------------------------- what people type


def test_command_text() -> None:
    for text in ("", "  ", "help", "HELP", "?", None):
        parsed = parse_command_text(text)
        assert parsed.query is None and parsed.problem is None  # plain usage
    assert parse_command_text("jane@example.com").query.email == "jane@example.com"
    assert parse_command_text("<mailto:jane@example.com|jane@example.com>").query.email == "jane@example.com"
    assert parse_command_text("cus_Q1a2B3c4D5").query.customer_id == "cus_Q1a2B3c4D5"
    bad = parse_command_text("jane at example")
    assert bad.query is None and bad.problem


def test_mention_text() -> None:
    assert parse_mention_text("<@UFPCHECKBOT> jane@example.com").query.email == "jane@example.com"
    q = parse_mention_text(
        "<@UFPCHECKBOT> can you check <mailto:jane@example.com|jane@example.com>? thanks <@U0BOB>"
    )
    assert q.query.email == "jane@example.com"
    assert parse_mention_text("<@UFPCHECKBOT>").problem is None  # bare mention: usage
    two = parse_mention_text("<@UFPCHECKBOT> a@example.com or b@example.com")
    assert two.query is None and two.problem


# ---------------------------------------------------------------- dedupe shared through Redis


def test_redis_store_is_shared_between_replicas(redis_url: str) -> None:
    from bot.slack.dedupe import RedisSeenStore
    from checks.cache import redis_client

    prefix = f"fpcheck:test:{time.monotonic_ns()}:"
    one = RedisSeenStore(redis_client(redis_url), prefix=prefix)
    two = RedisSeenStore(redis_client(redis_url), prefix=prefix)  # another process, same Redis
    assert one.first_time("Ev1")
    assert not two.first_time("Ev1") and not one.first_time("Ev1")
    assert two.first_time("Ev2")
    assert 590 <= redis_client(redis_url).ttl(prefix + "Ev1") <= 600


def test_redis_store_handles_the_event_when_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    from bot.slack.dedupe import RedisSeenStore
    from checks.cache import redis_client

    down = RedisSeenStore(redis_client("redis://127.0.0.1:9/0"))
    with caplog.at_level(logging.WARNING):
        assert down.first_time("Ev1") and down.first_time("Ev1")
    assert "Redis did not answer" in caplog.text
