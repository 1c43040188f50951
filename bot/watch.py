"""The payment watch: FPCHECK_WATCH_CHANNEL makes `fpcheck serve` follow Stripe's payment events
(polling `GET /v1/events`: no public URL needed, Socket Mode is fine) and, FPCHECK_WATCH_DELAY
seconds after a payment by a FirstPromoter referral (past the ~2 minutes FirstPromoter needs),
check that it was credited; if not, post that person's report in the channel.

Nothing skipped, nothing twice, across restarts and replicas:
- the cursor is the end of the last time range read in full; each poll reads from LAG seconds
  before it (events can become listable a little after their `created`) up to now (at most
  MAX_STEP ahead, so a long outage is caught up an hour per poll), and an event id already seen
  is not processed again.  A poll that fails (Stripe 429/500 past the retries) moves nothing:
  the next one reads the same range;
- each payment waits in `pending` (keyed by its sale: see checks/sweep/events.py) until it is due;
- before checking a due payment a replica claims it (Redis `SET NX`, WORK_TTL); a payment that
  was alerted or found credited stays claimed for DONE_TTL, so it is alerted at most once.  A
  check that could not read its upstreams releases the claim and is tried again next poll (at
  most MAX_ATTEMPTS times).
Without FPCHECK_REDIS_URL the same state lives in the digest's local file (one machine only).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.audit import mask_email
from bot.digest import FileDigestState
from bot.redis_state import set_forward
from checks import money
from checks.sources import SourceError
from checks.sweep.credit import Judged, judge
from checks.sweep.events import Ref, WatchStripe, sale_of

if TYPE_CHECKING:  # annotations only: serve passes them in
    from bot.slack.settings import ServeSettings
    from checks.engine import Engine

log = logging.getLogger(__name__)

LAG = 120  # seconds each poll reads back before the cursor
MAX_STEP = 3600  # seconds one poll reads at most
WORK_TTL = 600  # a crashed checker's claim expires, so another replica takes the payment
DONE_TTL = 40 * 86_400  # longer than Stripe keeps events (30 days): a payment is never alerted twice
MAX_ATTEMPTS = 6  # checks that could not read their upstreams, before giving up on a payment
MAX_DUE_PER_TICK = 50  # payments checked per poll; the rest wait for the next one
_KEY = "fpcheck:watch:"


@dataclass
class Pending:
    due: int  # epoch seconds
    refs: list[Ref] = field(default_factory=list)
    attempts: int = 0

    def to_json(self) -> str:
        return json.dumps({"due": self.due, "refs": [list(r) for r in self.refs], "attempts": self.attempts})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Pending:
        d = json.loads(raw)
        return cls(int(d["due"]), [(r[0], r[1]) for r in d.get("refs") or []], int(d.get("attempts") or 0))

    def merge(self, due: int, refs: Iterable[Ref]) -> Pending:
        return Pending(min(self.due, due), list(dict.fromkeys([*self.refs, *refs])), self.attempts)


class WatchState(Protocol):
    def cursor(self) -> int | None: ...
    def set_cursor(self, t: int) -> None: ...
    def seen(self, event_id: str) -> bool: ...
    def mark_seen(self, event_id: str, created: int) -> None: ...
    def forget_seen(self, before: int) -> None: ...
    def add_pending(self, key: str, due: int, refs: list[Ref]) -> None: ...
    def put_pending(self, key: str, p: Pending) -> None: ...
    def pending(self) -> dict[str, Pending]: ...
    def drop_pending(self, key: str) -> None: ...
    def claim(self, key: str) -> bool: ...
    def release(self, key: str) -> None: ...
    def done(self, key: str) -> None: ...


class RedisWatchState:
    def __init__(self, client: Any, prefix: str = _KEY) -> None:
        self.r, self.p = client, prefix

    def cursor(self) -> int | None:
        raw = self.r.get(self.p + "cursor")
        return int(raw) if raw is not None else None

    def set_cursor(self, t: int) -> None:
        set_forward(self.r, self.p + "cursor", int(t))

    def seen(self, event_id: str) -> bool:
        return self.r.zscore(self.p + "seen", event_id) is not None

    def mark_seen(self, event_id: str, created: int) -> None:
        self.r.zadd(self.p + "seen", {event_id: created})

    def forget_seen(self, before: int) -> None:
        self.r.zremrangebyscore(self.p + "seen", "-inf", f"({before}")

    def add_pending(self, key: str, due: int, refs: list[Ref]) -> None:
        raw = self.r.hget(self.p + "pending", key)
        p = Pending.from_json(raw).merge(due, refs) if raw is not None else Pending(due, list(refs))
        self.r.hset(self.p + "pending", key, p.to_json())

    def put_pending(self, key: str, p: Pending) -> None:
        self.r.hset(self.p + "pending", key, p.to_json())

    def pending(self) -> dict[str, Pending]:
        return {(k.decode() if isinstance(k, bytes) else k): Pending.from_json(v)
                for k, v in self.r.hgetall(self.p + "pending").items()}

    def drop_pending(self, key: str) -> None:
        self.r.hdel(self.p + "pending", key)

    def claim(self, key: str) -> bool:
        return bool(self.r.set(f"{self.p}claim:{key}", "working", nx=True, ex=WORK_TTL))

    def release(self, key: str) -> None:
        self.r.delete(f"{self.p}claim:{key}")

    def done(self, key: str) -> None:
        self.r.set(f"{self.p}claim:{key}", "done", ex=DONE_TTL)


class FileWatchState(FileDigestState):
    """The digest's state file (flock), under a "watch" entry."""

    def _w(self, d: dict[str, Any]) -> dict[str, Any]:
        # a fresh copy under "watch": the file is rewritten when the top-level entries differ
        old = d.get("watch") or {}
        w = {k: dict(v) if isinstance(v, dict) else v for k, v in old.items()}
        for k in ("seen", "pending", "claims"):
            w.setdefault(k, {})
        d["watch"] = w
        return w

    def cursor(self) -> int | None:
        with self._locked() as d:
            v = (d.get("watch") or {}).get("cursor")
        return int(v) if v is not None else None

    def set_cursor(self, t: int) -> None:
        with self._locked() as d:
            w = self._w(d)
            if int(w.get("cursor") or 0) < int(t):
                w["cursor"] = int(t)

    def seen(self, event_id: str) -> bool:
        with self._locked() as d:
            return event_id in ((d.get("watch") or {}).get("seen") or {})

    def mark_seen(self, event_id: str, created: int) -> None:
        with self._locked() as d:
            self._w(d)["seen"][event_id] = int(created)

    def forget_seen(self, before: int) -> None:
        with self._locked() as d:
            w = self._w(d)
            w["seen"] = {k: v for k, v in w["seen"].items() if v >= before}

    def add_pending(self, key: str, due: int, refs: list[Ref]) -> None:
        with self._locked() as d:
            w = self._w(d)
            raw = w["pending"].get(key)
            p = Pending.from_json(raw).merge(due, refs) if raw else Pending(due, list(refs))
            w["pending"][key] = p.to_json()

    def put_pending(self, key: str, p: Pending) -> None:
        with self._locked() as d:
            self._w(d)["pending"][key] = p.to_json()

    def pending(self) -> dict[str, Pending]:
        with self._locked() as d:
            raw = dict((d.get("watch") or {}).get("pending") or {})
        return {k: Pending.from_json(v) for k, v in raw.items()}

    def drop_pending(self, key: str) -> None:
        with self._locked() as d:
            self._w(d)["pending"].pop(key, None)

    def claim(self, key: str) -> bool:
        now = time.time()
        with self._locked() as d:
            claims = self._w(d)["claims"]
            for k in [k for k, until in claims.items() if until <= now]:
                del claims[k]  # expired claims go, so the file stays small
            if key in claims:
                return False
            claims[key] = now + WORK_TTL
            return True

    def release(self, key: str) -> None:
        with self._locked() as d:
            self._w(d)["claims"].pop(key, None)

    def done(self, key: str) -> None:
        with self._locked() as d:
            self._w(d)["claims"][key] = time.time() + DONE_TTL


Alert = Callable[[Judged], None]  # post that payment's report


@dataclass
class TickStats:
    events: int = 0  # new payment events processed
    checked: int = 0
    alerted: int = 0
    poll_failed: bool = False


class Watch:
    def __init__(self, engine: Any, state: WatchState, alert: Alert, *, delay: float = 300.0) -> None:
        self.engine, self.state, self.alert, self.delay = engine, state, alert, int(delay)
        from checks.sweep.lists import SweepFP

        # on the engine's rate budgets: the watch and the interactive checks share the upstream limits
        self.stripe = engine.wiring.stripe(WatchStripe)
        self.fp = engine.wiring.firstpromoter(SweepFP)

    def tick(self, now: float | None = None) -> TickStats:
        stats = TickStats()
        t = int(now if now is not None else time.time())
        self._poll(t, stats)
        self._check_due(t, stats)
        return stats

    def _poll(self, now: int, stats: TickStats) -> None:
        cursor = self.state.cursor()
        if cursor is None:
            # the very first start: payments from now on (older ones are what `fpcheck sweep` is for)
            self.state.set_cursor(now)
            log.info("watch: following Stripe's payment events from now on")
            return
        gte, lte = cursor - LAG, min(now, cursor + MAX_STEP)
        try:
            events = self.stripe.payment_events(gte, lte)
        except SourceError as exc:
            stats.poll_failed = True
            log.warning("watch: could not read Stripe's events (%s); the next poll reads them again", exc)
            return
        for e in sorted(events, key=lambda e: (int(e.get("created") or 0), str(e.get("id")))):
            eid, created = str(e.get("id")), int(e.get("created") or 0)
            if self.state.seen(eid):
                continue
            sale = sale_of(e)
            if sale is not None:
                key, ref = sale
                self.state.add_pending(key, created + self.delay, [ref])
            self.state.mark_seen(eid, created)  # after the pending entry: a crash between repeats, never skips
            stats.events += 1
        self.state.set_cursor(lte)
        self.state.forget_seen(lte - 2 * LAG)

    def _check_due(self, now: int, stats: TickStats) -> None:
        due = sorted(((k, p) for k, p in self.state.pending().items() if p.due <= now), key=lambda kp: kp[1].due)
        campaigns: list[dict[str, Any]] | None = None
        for key, p in due[:MAX_DUE_PER_TICK]:
            if not self.state.claim(key):
                continue  # another replica has it, or it was alerted already
            try:
                if campaigns is None:
                    index = self.engine.campaigns.get(wait=60.0)  # the shared index: no page limit
                    if not index.complete:
                        raise SourceError(index.progress())
                    campaigns = [pc.model_dump(mode="json") for pc in index.campaigns]
                judged = judge(self.engine, self.stripe, self.fp, p.refs, campaigns)
                stats.checked += 1
                if judged.outcome == "lost" and judged.report is not None and not self._final(judged, p):
                    raise SourceError("the diagnosis could not read everything")
                if judged.outcome == "lost":
                    self.alert(judged)
                    stats.alerted += 1
                    self.state.done(key)  # claimed for DONE_TTL: never alerted again
                else:
                    self.state.release(key)  # its events are never read again (`seen`, the cursor)
                self.state.drop_pending(key)
                self._log(key, judged)
            except Exception as exc:
                self.state.release(key)
                p.attempts += 1
                if p.attempts >= MAX_ATTEMPTS:
                    self.state.drop_pending(key)
                    log.error("watch: gave up on %s after %d attempts (%s)", key, p.attempts, _why(exc))
                else:
                    self.state.put_pending(key, p)
                    log.warning("watch: could not check %s (%s); trying again next poll", key, _why(exc))

    @staticmethod
    def _final(judged: Judged, p: Pending) -> bool:
        """A diagnosis that could not read an upstream is tried again, until the last attempt."""
        from checks.model import Status

        assert judged.report is not None
        return judged.report.verdict.status is not Status.ERROR or p.attempts + 1 >= MAX_ATTEMPTS

    @staticmethod
    def _log(key: str, j: Judged) -> None:
        who = mask_email(j.payment.email) if j.payment and j.payment.email else "-"
        log.info("watch: %s by %s: %s", key, who, j.outcome)

    def run_forever(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:
                log.error("watch: poll failed (%s); trying again in %g s", _why(exc), interval)
            stop.wait(interval)


def _why(exc: BaseException) -> str:
    # SourceError messages are ours and already redacted; anything else is named, not printed
    return str(exc) if isinstance(exc, SourceError) else type(exc).__name__


def amount_text(amount: int, currency: str) -> str:
    major = amount / 10 ** money.exponent(currency)
    return f"{major:,.{money.exponent(currency)}f} {currency.upper()}"


def watch_poster(client: Any, channel: str, delay: float) -> Alert:
    """Post the lost payment's one-line alert in `channel` and the person's full report under it."""
    from bot.slack.blocks import escape, fallback_text, report_blocks, verdict_text

    def post(j: Judged) -> None:
        assert j.payment is not None and j.report is not None
        p = j.payment
        text = (f":rotating_light: FirstPromoter did not credit `{escape(p.id)}` "
                f"({escape(amount_text(p.amount, p.currency))}, {p.paid_at:%Y-%m-%d %H:%M} UTC) "
                f"by *{escape(j.report.query)}* within {round(delay / 60)} min: {verdict_text(j.report)}")
        parent = client.chat_postMessage(channel=channel, text=text[:2900],
                                         blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}])
        client.chat_postMessage(channel=channel, thread_ts=parent["ts"], text=fallback_text(j.report),
                                blocks=report_blocks(j.report))

    return post


def start(engine: Engine, client: Any, settings: ServeSettings) -> threading.Event | None:
    """Start the watch thread of `fpcheck serve` when FPCHECK_WATCH_CHANNEL is set (its settings
    checked by `validate_watch` at start-up); returns its stop event.  Its state is kept with the
    process's Redis client when there is one, else in FPCHECK_STATE_FILE."""
    channel, delay, interval = settings.watch_channel, settings.fpcheck_watch_delay, settings.fpcheck_watch_interval
    if channel is None or delay is None or interval is None:
        return None
    redis = engine.wiring.redis
    state: WatchState = RedisWatchState(redis) if redis is not None else FileWatchState(settings.fpcheck_state_file)
    watch = Watch(engine, state, watch_poster(client, channel, delay), delay=delay)
    stop = threading.Event()
    threading.Thread(target=watch.run_forever, args=(stop, interval), name="fpcheck-watch", daemon=True).start()
    log.info("watch: payments checked %g s after they are made, alerts in %s", delay, channel)
    return stop
