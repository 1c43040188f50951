"""One `fpcheck serve` process loads its settings once and makes one Redis client, shared by the
engine's cache, the rate budgets, the promoter-campaign index, the event dedupe, the digest and the
watch.  Counted on the real constructions (pydantic-settings' BaseSettings, redis-py's Redis), with
serve's own start-up code run for real against the sandbox, a Slack stand-in and a real Redis.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from pydantic_settings import BaseSettings
from stand_ins.slack_api import SlackStandIn

from bot.slack import serve
from checks.sweep.run import Sweeper

BOT_TOKEN = "xoxb-1111-2222-wiringTestToken"
SIGNING_SECRET = "wiring-test-signing-secret"
JOB_THREADS = ("fpcheck-digest", "fpcheck-watch")


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many BaseSettings loads (by class) and Redis clients the process makes from now on."""
    counts: Counter[str] = Counter()

    def counting(cls: type, label: Callable[[Any], str | None]) -> None:
        real = cls.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            if (name := label(self)) is not None:
                counts[name] += 1
            real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", init)

    counting(BaseSettings, lambda s: f"settings:{type(s).__name__}")
    # a pipeline is a Redis subclass made per batch of commands on an existing client
    counting(redis.Redis, lambda r: None if isinstance(r, redis.client.Pipeline) else "redis")
    return counts


@pytest.fixture
def serve_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, clean_sandbox: Any, redis_url: str) -> Iterator[str]:
    """Everything on: Redis, the digest, the watch; a Redis database of its own (the job threads write there)."""
    url = redis_url.rsplit("/", 1)[0] + "/9"
    with SlackStandIn(BOT_TOKEN) as slack:
        env = {**clean_sandbox.env(), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_BASE_URL": slack.api_url, "FPCHECK_REDIS_URL": url,
               "FPCHECK_SWEEP_CHANNEL": "C0DIGEST", "FPCHECK_SWEEP_CRON": "0 9 * * 1",
               "FPCHECK_WATCH_CHANNEL": "C0WATCH"}
        for name in ("SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "PORT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)  # no developer's .env
        yield url
    redis.Redis.from_url(url).flushdb()


def _jobs_stopped(timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while any(t.name in JOB_THREADS for t in threading.enumerate()):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_one_serve_process_loads_settings_once_and_shares_one_redis_client(
    serve_env: str, built: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    real_prepare = serve.prepare

    def prepare(*args: Any) -> serve.Prepared:
        seen["prepared"] = real_prepare(*args)
        return seen["prepared"]

    def run_http(sock: Any, make_wsgi: Callable[[], Any], **_: Any) -> int:
        # gunicorn's worker would load the app once and serve until stopped: load it, stop at once
        assert any(t.name == "fpcheck-watch" for t in threading.enumerate())  # the jobs run meanwhile
        seen["app"] = make_wsgi()
        sock.close()
        return 0

    monkeypatch.setattr(serve, "prepare", prepare)
    monkeypatch.setattr(serve, "run_http", run_http)
    assert serve.main(["--host", "127.0.0.1", "--port", "0"]) == 0
    assert _jobs_stopped()  # main stops the digest and the watch when the server returns

    assert built == Counter({"settings:ServeSettings": 1, "redis": 1}), built
    p: serve.Prepared = seen["prepared"]
    client = p.engine.wiring.redis
    assert client is not None and p.seen.r is client and p.engine.cache.r is client  # type: ignore[attr-defined]
    assert p.engine.campaigns.store.r is client  # type: ignore[attr-defined]
    assert p.slack is p.settings and p.engine.settings is p.settings  # one object, every part of it
    # a Slack sweep (and the digest's) runs on the bot's wiring: no second client, cache or index
    sweeper = Sweeper(p.engine.settings, engine=p.engine)
    assert sweeper.engine.wiring is p.engine.wiring
    assert built == Counter({"settings:ServeSettings": 1, "redis": 1}), built


def test_serve_check_loads_settings_once_and_makes_one_redis_client(
    serve_env: str, built: Counter[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve.main(["--check"]) == 0, capsys.readouterr().err
    assert "Redis ok" in capsys.readouterr().out
    assert built == Counter({"settings:ServeSettings": 1, "redis": 1}), built
