"""The payment watch: Stripe's events polled (the Stripe stand-in's /v1/events), a payment by a
referral checked FPCHECK_WATCH_DELAY later, an alert with the person's report in the channel (the
Slack stand-in) when FirstPromoter did not credit it; the cursor and the pending checks kept in a
real Redis or the local state file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from slack_sdk import WebClient

from bot.slack.settings import WatchSettings
from bot.sweep_demo import month_settings
from bot.watch import FileWatchState, RedisWatchState, Watch, watch_poster
from checks.engine import Engine
from checks.settings import ConfigError
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.scenarios import PC_ANA
from sandbox.stripe_server import API_ERROR, DAY, RATE_LIMIT_ERROR, StripeStandIn
from tests.stand_ins.slack_api import SlackStandIn

BOT_TOKEN = "xoxb-watch-test"
CHANNEL = "C0WATCH"
DELAY = 300


class Account:
    """A seeded account (a month of payments, older than the 30 days of events Stripe keeps) plus
    the people each test adds, each test in an hour of its own."""

    def __init__(self) -> None:
        self.stripe, self.fp = StripeStandIn(), FirstPromoterStandIn()
        seed_month(self.stripe, self.fp, invoices=30, referrals=20, commissions=8, lost=4, now=time.time() - 35 * DAY)
        self._n = 0
        self._hours = 0

    def t0(self) -> int:
        """A time of the last day no other test uses, with an hour after it."""
        self._hours += 2
        return int(time.time()) - self._hours * 3600

    def start(self) -> None:
        self.stripe.start()
        self.fp.start()
        self.engine = Engine(month_settings(self.stripe, self.fp))

    def pay(self, at: int, *, referral: bool = True) -> tuple[str, int | None]:
        """A referral's first invoice paid at `at`; (its invoice id, the referral id)."""
        self._n += 1
        sfx = f"Watch{self._n:04d}{int(at) % 100000}"
        cus, email = f"cus_{sfx}", f"watch.{sfx.lower()}@example.com"
        self.stripe.add_customer(cus, email, created=at - 600)
        self.stripe.add_subscription(f"sub_{sfx}", cus, created=at - 20, amount=2900)
        self.stripe.add_invoice(f"in_{sfx}", cus, created=at - 20, paid_at=at, subtotal=2900, subscription=f"sub_{sfx}")
        rid = self.fp.add_referral(email, uid=cus, state="active", promoter_campaign_id=PC_ANA,
                                   created_at=at - 40 * DAY) if referral else None
        return f"in_{sfx}", rid


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    a = Account()
    a.start()
    try:
        yield a
    finally:
        a.stripe.stop()
        a.fp.stop()


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(BOT_TOKEN) as s:
        yield s


@pytest.fixture(params=["redis", "file"])
def make_state(request, redis_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory: each call is a new process's view of the same stored state."""
    prefix = f"fpcheck:test:{request.node.name}:"
    if request.param == "redis":
        return lambda: RedisWatchState(redis.Redis.from_url(redis_url), prefix=prefix)
    return lambda: FileWatchState(tmp_path / "state.json")


def _watch(account: Account, slack: SlackStandIn, state: Any) -> Watch:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    return Watch(account.engine, state, watch_poster(client, CHANNEL, DELAY), delay=DELAY)


def _alerts(slack: SlackStandIn) -> list[Any]:
    return [c for c in slack.calls if c.method == "chat.postMessage" and "thread_ts" not in c.params]


def _events_of(account: Account, *invoices: str) -> int:
    ds = account.stripe.data["test"]
    return sum(1 for e in ds.events.values()
               if e["data"]["object"]["id"] in invoices or e["data"]["object"].get("payment_intent") in
               {f"pi_{i.removeprefix('in_')}" for i in invoices})


def test_the_cursor_survives_a_restart_no_event_twice_none_skipped(account: Account, slack: SlackStandIn,
                                                                    make_state) -> None:
    t0 = account.t0()
    make_state().set_cursor(t0 - 600)
    first, _ = account.pay(t0 - 300)
    a = _watch(account, slack, make_state())
    s1 = a.tick(t0 + 100)
    assert (s1.events, s1.alerted) == (_events_of(account, first), 1)
    # a new process (the same stored state): another payment, then one whose events became
    # listable late (created before the last poll's end, added after it)
    second, _ = account.pay(t0 + 500)
    b = _watch(account, slack, make_state())
    s2 = b.tick(t0 + 900)
    late, _ = account.pay(t0 + 850)
    s3 = b.tick(t0 + 1300)
    s4 = _watch(account, slack, make_state()).tick(t0 + 1400)
    assert (s2.events, s3.events, s4.events) == (_events_of(account, second), _events_of(account, late), 0)
    alerted = [c.params["text"] for c in _alerts(slack)]
    assert len(alerted) == 3 and [sum(i in t for t in alerted) for i in (first, second, late)] == [1, 1, 1]
    assert not make_state().pending()


def test_a_payment_credited_before_its_check_is_not_alerted(account: Account, slack: SlackStandIn,
                                                           make_state) -> None:
    t0 = account.t0()
    make_state().set_cursor(t0 - 600)
    invoice, rid = account.pay(t0)
    w = _watch(account, slack, make_state())
    s1 = w.tick(t0 + 60)  # read, not yet due
    assert s1.events > 0 and s1.checked == 0 and invoice in make_state().pending()
    account.fp.add_commission(invoice, referral_id=rid, created_at=t0 + 90)  # FirstPromoter credits it
    s2 = w.tick(t0 + DELAY + 1)
    assert s2.checked >= 1 and s2.alerted == 0 and not make_state().pending()
    assert _alerts(slack) == []


def test_a_payment_not_credited_posts_the_report_once(account: Account, slack: SlackStandIn, make_state) -> None:
    t0 = account.t0()
    make_state().set_cursor(t0 - 600)
    invoice, _ = account.pay(t0 - 400)
    stranger, _ = account.pay(t0 - 390, referral=False)  # not a referral: not FirstPromoter's to credit
    w = _watch(account, slack, make_state())
    s = w.tick(t0)
    assert s.checked >= 2 and s.alerted == 1
    parent = _alerts(slack)[0]
    assert parent.params["channel"] == CHANNEL and invoice in parent.params["text"]
    assert stranger not in json.dumps([c.params for c in slack.calls])
    thread = [c for c in slack.calls if c.params.get("thread_ts")]
    assert len(thread) == 1 and "recorded no commission for invoice " + invoice in json.dumps(thread[0].params["blocks"])
    assert w.tick(t0 + 600).alerted == 0 and len(_alerts(slack)) == 1


def test_two_replicas_alert_once(account: Account, slack: SlackStandIn, redis_url: str, request) -> None:
    prefix = f"fpcheck:test:{request.node.name}:"
    state = lambda: RedisWatchState(redis.Redis.from_url(redis_url), prefix=prefix)  # noqa: E731
    t0 = account.t0()
    state().set_cursor(t0 - 600)
    invoices = [account.pay(t0 - 400 + i)[0] for i in range(3)]
    replicas = [_watch(account, slack, state()) for _ in range(2)]
    got: list[Any] = []
    threads = [threading.Thread(target=lambda r=r: got.append(r.tick(t0))) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(s.alerted for s in got) == 3
    texts = [c.params["text"] for c in _alerts(slack)]
    assert [sum(i in t for t in texts) for i in invoices] == [1, 1, 1]


def test_stripe_429_and_500_while_watching_lose_nothing(account: Account, slack: SlackStandIn, make_state) -> None:
    t0 = account.t0()
    make_state().set_cursor(t0 - 600)
    invoice, _ = account.pay(t0 - 400)
    w = _watch(account, slack, make_state())
    try:
        account.stripe.inject(r"^/v1/events$", status=429, body=RATE_LIMIT_ERROR, times=3)
        s1 = w.tick(t0)
        assert s1.poll_failed and s1.events == 0 and make_state().cursor() == t0 - 600
        account.stripe.inject(rf"^/v1/invoices/{invoice}$", status=500, body=API_ERROR, times=3)
        s2 = w.tick(t0 + 60)  # the events are read; the check of the due payment fails and waits
        assert not s2.poll_failed and s2.events > 0 and s2.alerted == 0 and invoice in make_state().pending()
    finally:
        account.stripe.clear_faults()
    s3 = w.tick(t0 + 120)
    assert s3.alerted == 1 and not make_state().pending()
    assert len(_alerts(slack)) == 1 and invoice in _alerts(slack)[0].params["text"]
    assert account.stripe.writes() == [] and account.fp.calls("POST") == []


def test_settings_bound_the_delay_and_the_interval() -> None:
    WatchSettings(_env_file=None, fpcheck_watch_channel="C1").validate_watch()  # the defaults are fine
    with pytest.raises(ConfigError, match="FPCHECK_WATCH_DELAY"):
        WatchSettings(_env_file=None, fpcheck_watch_channel="C1", fpcheck_watch_delay=60).validate_watch()
    with pytest.raises(ConfigError, match="FPCHECK_WATCH_INTERVAL"):
        WatchSettings(_env_file=None, fpcheck_watch_channel="C1", fpcheck_watch_interval=0).validate_watch()
