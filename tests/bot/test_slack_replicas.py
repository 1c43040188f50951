"""Two replicas of the bot behind one Slack: two real HTTP app instances on 127.0.0.1, each built
the way `fpcheck serve` builds it (bot.slack.serve.prepare from the environment, then build_app), sharing
one Slack stand-in and the sandbox, and either one Redis (FPCHECK_REDIS_URL) or nothing.

With Redis, a Slack retry that lands on the other replica is answered once, and the second
replica's run reuses the account-level facts the first one read.  Without Redis, the same
sequences post twice and re-read everything: the shared store is what makes the difference.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from slack_harness import BOT_TOKEN, SIGNING_SECRET, Answer, Harness, all_text, mention
from stand_ins.slack_api import SlackStandIn

from bot.slack.app import build_app
from bot.slack.dedupe import MemorySeenStore, RedisSeenStore
from bot.slack.serve import prepare
from checks.cache import MemoryCache, RedisCache

EMAIL = "healthy@example.com"
CACHED_EMAIL = "promo-code@example.com"  # reads the account, its tracking coupon and promoter campaigns

StartReplica = Callable[[str | None], Harness]


@pytest.fixture
def start_replica(
    slack: SlackStandIn, clean_sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartReplica]:
    """start(redis_url or None) -> a replica configured only through the environment."""
    started: list[Harness] = []

    def start(redis_url: str | None) -> Harness:
        env = {
            **clean_sandbox.env(),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_BASE_URL": slack.api_url,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        if redis_url:
            monkeypatch.setenv("FPCHECK_REDIS_URL", redis_url)
        else:
            monkeypatch.delenv("FPCHECK_REDIS_URL", raising=False)
        prepared = prepare()  # what `fpcheck serve` does: settings, Redis check, engine, auth.test
        app = build_app(prepared.slack, prepared.engine, prepared.client, seen=prepared.seen)
        replica = Harness(slack, prepared.engine, app=app)  # type: ignore[arg-type]
        replica.prepared = prepared  # type: ignore[attr-defined]
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.close()


def flush(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).flushdb()


def upstream_calls(sandbox) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {"stripe": len(sandbox.stripe.calls()), "firstpromoter": len(sandbox.fp.calls())}


def checks_of(blocks: list[dict]) -> list[str]:
    """The report's check lines, without the timing footer (which differs from run to run)."""
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and b["text"]["text"].startswith(":")]


@pytest.mark.parametrize("shared, posts", [(True, 1), (False, 2)], ids=["redis", "memory"])
def test_retry_landing_on_the_other_replica(
    start_replica: StartReplica, slack: SlackStandIn, redis_url: str, shared: bool, posts: int
) -> None:
    if shared:
        flush(redis_url)
    a = start_replica(redis_url if shared else None)
    b = start_replica(redis_url if shared else None)
    expected_store = RedisSeenStore if shared else MemorySeenStore
    assert isinstance(a.prepared.seen, expected_store) and isinstance(b.prepared.seen, expected_store)  # type: ignore[attr-defined]

    event_id = f"Ev0REPLICA{uuid.uuid4().hex[:10].upper()}"
    event = mention(EMAIL, ts=slack.add_message("C0GENERAL", "why no commission?"))
    assert a.event(event, event_id=event_id).status == 200
    # Slack did not see A's answer in time and retries; the load balancer picks B
    assert b.event(event, event_id=event_id, retry_num=1).status == 200  # acked, so Slack stops
    a.drain()
    b.drain()

    replies = slack.of("chat.postMessage")
    assert len(replies) == posts
    for reply in replies:
        assert ":white_check_mark: Every check passed." in all_text(reply.params["blocks"])
    if shared:
        assert redis.Redis.from_url(redis_url).exists(f"fpcheck:slack-event:{event_id}")


@pytest.mark.parametrize("shared, posts", [(True, 1), (False, 2)], ids=["redis", "memory"])
def test_the_same_event_at_both_replicas_at_once(
    start_replica: StartReplica, slack: SlackStandIn, redis_url: str, shared: bool, posts: int
) -> None:
    if shared:
        flush(redis_url)
    replicas = [start_replica(redis_url if shared else None) for _ in range(2)]
    event_id = f"Ev0RACE{uuid.uuid4().hex[:10].upper()}"
    event = mention(EMAIL, ts=slack.add_message("C0GENERAL", "why no commission?"))
    answers: list[Answer] = []
    gate = threading.Barrier(2, timeout=10)

    def deliver(replica: Harness, retry_num: int | None) -> None:
        gate.wait()
        answers.append(replica.event(event, event_id=event_id, retry_num=retry_num))

    threads = [
        threading.Thread(target=deliver, args=(replica, n or None)) for n, replica in enumerate(replicas)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    assert [a.status for a in answers] == [200, 200]
    for replica in replicas:
        replica.drain()
    assert slack.count("chat.postMessage") == posts


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "memory"])
def test_second_replica_reuses_the_account_facts_the_first_read(
    start_replica: StartReplica, slack: SlackStandIn, clean_sandbox, redis_url: str, shared: bool
) -> None:
    if shared:
        flush(redis_url)
    a = start_replica(redis_url if shared else None)
    b = start_replica(redis_url if shared else None)
    expected_cache = RedisCache if shared else MemoryCache
    assert isinstance(a.prepared.engine.cache, expected_cache)  # type: ignore[attr-defined]

    a.command(CACHED_EMAIL, hook="a")
    _, first_report = slack.wait_for("chat.postMessage", 2)
    a.drain()
    first = upstream_calls(clean_sandbox)
    clean_sandbox.stripe.reset_log()
    clean_sandbox.fp.reset_log()

    b.command(CACHED_EMAIL, hook="b")
    *_, second_report = slack.wait_for("chat.postMessage", 4)
    b.drain()
    second = upstream_calls(clean_sandbox)

    assert first["stripe"] > 0 and first["firstpromoter"] > 0 and second["stripe"] > 0
    if shared:
        # the Stripe account, the tracking coupon and the promoter campaigns come from Redis
        assert second["stripe"] < first["stripe"], (first, second)
        assert second["firstpromoter"] < first["firstpromoter"], (first, second)
        assert redis.Redis.from_url(redis_url).keys("fpcheck:cache:*")
    else:
        # each replica's own memory: the Stripe facts are read again; the promoter-campaign index
        # is shared on disk by processes on one machine (FPCHECK_CACHE_DIR)
        assert second["stripe"] == first["stripe"], (first, second)
        assert second["firstpromoter"] < first["firstpromoter"], (first, second)
    # the same checks, the same outcome, whichever replica answered
    assert second_report.params["thread_ts"] != first_report.params["thread_ts"]
    assert checks_of(second_report.params["blocks"]) == checks_of(first_report.params["blocks"])
    assert "response_url" not in slack.methods()
