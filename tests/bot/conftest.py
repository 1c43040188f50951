"""Fixtures for the bot's tests; the harness itself is in slack_harness.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_harness import BOT_TOKEN, Harness
from stand_ins.slack_api import SlackStandIn

from checks.engine import Engine

_ENV = (
    "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
    "SLACK_API_BASE_URL", "SLACK_VERIFICATION_TOKEN", "PORT", "FPCHECK_ALLOWED_CHANNELS",
    "FPCHECK_ALLOWED_USERS", "FPCHECK_REDIS_URL", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # SLACK_CLIENT_ID + SECRET would switch Bolt to OAuth mode; proxies would capture loopback calls;
    # a developer's .env in the working directory must not leak in.
    for var in _ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(BOT_TOKEN) as standin:
        yield standin


@pytest.fixture
def engine(clean_sandbox: Any) -> Engine:
    return Engine(clean_sandbox.settings())


@pytest.fixture
def make_harness(slack: SlackStandIn, engine: Engine) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**overrides: Any) -> Harness:
        h = Harness(slack, engine, **overrides)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def bot(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
