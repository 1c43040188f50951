"""The scheduled digest: one poster across replicas (a real Redis), nothing skipped or repeated
across restarts, and the local-file state for a single machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from slack_sdk import WebClient

from bot.digest import Digest, FileDigestState, RedisDigestState, Schedule
from bot.slack.sweep import digest_poster
from bot.sweep_demo import month_settings
from checks.engine import Engine
from checks.settings import ConfigError
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import StripeStandIn
from tests.stand_ins.slack_api import SlackStandIn

BOT_TOKEN = "xoxb-digest-test"
HOURLY = Schedule.parse("0 * * * *", None)
# a whole hour, 10 days back: inside the seeded month
NOW = (datetime.now(UTC) - timedelta(days=10)).replace(minute=20, second=0, microsecond=0)
SLOT = NOW.replace(minute=0)


@pytest.fixture(scope="module")
def month() -> Iterator[Engine]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    seed_month(stripe, fp, invoices=60, referrals=30, commissions=15, lost=6)
    with stripe, fp:
        yield Engine(month_settings(stripe, fp))


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(BOT_TOKEN) as s:
        yield s


def _replica(redis_url: str, slack: SlackStandIn, engine: Engine, prefix: str) -> Digest:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    state = RedisDigestState(redis.Redis.from_url(redis_url), prefix=prefix)
    return Digest(HOURLY, state, digest_poster(client, "C0DIGEST", engine))


def _parents(slack: SlackStandIn) -> list:
    return [c for c in slack.calls if c.method == "chat.postMessage" and "thread_ts" not in c.params]


def test_two_replicas_post_each_digest_once_and_a_restart_neither_skips_nor_repeats(
    redis_url: str, slack: SlackStandIn, month: Engine, request
) -> None:
    prefix = f"fpcheck:test:{request.node.name}:"
    a, b = _replica(redis_url, slack, month, prefix), _replica(redis_url, slack, month, prefix)
    # the first start ever records where digests begin, and posts nothing
    assert a.tick(NOW - timedelta(hours=1)) is None and b.tick(NOW - timedelta(hours=1)) is None
    # the scheduled time comes: both replicas tick at once; exactly one posts
    got: list = []
    threads = [threading.Thread(target=lambda r=r: got.append(r.tick(NOW))) for r in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    posted = [w for w in got if w is not None]
    assert len(posted) == 1 and posted[0].start == SLOT - timedelta(hours=1) and posted[0].end == SLOT
    slack.wait_for("chat.postMessage", 2, timeout=30)  # parent + thread
    assert len(_parents(slack)) == 1 and _parents(slack)[0].params["channel"] == "C0DIGEST"
    # a replica that restarts (a new process: new client, same Redis) does not repeat it
    c = _replica(redis_url, slack, month, prefix)
    assert c.tick(NOW + timedelta(minutes=5)) is None
    # down across three scheduled times: one digest covers the whole gap, starting where the last ended
    later = c.tick(NOW + timedelta(hours=3))
    assert later is not None and later.start == SLOT and later.end == SLOT + timedelta(hours=3)
    assert a.tick(NOW + timedelta(hours=3)) is None
    slack.wait_for("chat.postMessage", 4, timeout=30)
    assert len(_parents(slack)) == 2


def test_a_failed_post_is_retried_on_the_next_tick(redis_url: str, request) -> None:
    prefix = f"fpcheck:test:{request.node.name}:"
    state = RedisDigestState(redis.Redis.from_url(redis_url), prefix=prefix)
    calls: list = []

    def flaky(window) -> None:  # type: ignore[no-untyped-def]
        calls.append(window)
        if len(calls) == 1:
            raise OSError("Slack is down")

    d = Digest(HOURLY, state, flaky)
    d.tick(NOW - timedelta(hours=1))
    with pytest.raises(OSError):
        d.tick(NOW)
    assert d.tick(NOW + timedelta(minutes=1)) is not None and calls[0] == calls[1]


def test_file_state_survives_a_restart(tmp_path) -> None:
    posted: list = []
    path = tmp_path / "state.json"
    Digest(HOURLY, FileDigestState(path), posted.append).tick(NOW - timedelta(hours=1))
    assert Digest(HOURLY, FileDigestState(path), posted.append).tick(NOW) is not None
    assert Digest(HOURLY, FileDigestState(path), posted.append).tick(NOW) is None  # restarted: no repeat
    assert len(posted) == 1


def test_schedule_reads_cron_in_fpcheck_tz() -> None:
    paris = Schedule.parse("0 9 * * *", "Europe/Paris")
    assert paris.latest(datetime(2026, 11, 26, 8, 30, tzinfo=UTC)) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert paris.tz == ZoneInfo("Europe/Paris")
    assert Schedule.parse("0 9 * * *", None).latest(datetime(2026, 11, 26, 8, 30, tzinfo=UTC)) == datetime(
        2026, 11, 25, 9, 0, tzinfo=UTC)
    for bad in ("every monday", "", "61 * * * *"):
        with pytest.raises(ConfigError):
            Schedule.parse(bad, None)
    with pytest.raises(ConfigError):
        Schedule.parse("0 9 * * *", "Mars/Olympus")


def test_state_file_keeps_a_change_deep_inside_an_entry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.digest import FileDigestState

    state = FileDigestState(tmp_path / "state.json")
    with state._locked() as d:
        d["watch"] = {"pending": {}}
    with state._locked() as d:
        d["watch"]["pending"]["in_1"] = 1  # nested: the top-level keys are unchanged
    with state._locked() as d:
        assert d["watch"]["pending"] == {"in_1": 1}
