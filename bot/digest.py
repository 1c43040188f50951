"""The scheduled sweep digest: FPCHECK_SWEEP_CHANNEL + FPCHECK_SWEEP_CRON (cron syntax, read in
FPCHECK_TZ, UTC by default) make `fpcheck serve` post, at each scheduled time, the sweep of the
period since the previous digest.

Exactly once, across replicas and restarts:
- the state is the end of the period the last digest covered (`last_end`); a digest is due when
  the latest scheduled time is after it.  A replica that was down across one or more scheduled
  times posts one digest covering the whole gap when it comes back (nothing skipped), and one that
  restarts after a digest went out finds `last_end` up to date (nothing repeated);
- several replicas race for a lock per scheduled time (Redis `SET NX PX`); only the winner sweeps
  and posts.  A winner that fails releases the lock so the next tick tries again.
Without FPCHECK_REDIS_URL the state and the lock live in a local file (one machine only).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from croniter import croniter

from bot.redis_state import set_forward
from checks.query import QueryError
from checks.settings import ConfigError
from checks.sweep.window import MAX_SPAN, Window, zone

if TYPE_CHECKING:  # annotations only: serve passes them in
    from bot.slack.settings import ServeSettings
    from checks.engine import Engine

log = logging.getLogger(__name__)

LOCK_TTL = timedelta(minutes=30)  # longer than any sweep; a crashed winner's lock expires
TICK_SECONDS = 30.0
_KEY = "fpcheck:digest:"


@dataclass(frozen=True)
class Schedule:
    cron: str
    tz: tzinfo

    @classmethod
    def parse(cls, cron: str | None, tz_name: str | None) -> Schedule:
        if not cron or not croniter.is_valid(cron.strip()):
            raise ConfigError("FPCHECK_SWEEP_CRON: give a cron expression such as `0 9 * * 1` (Mondays 09:00)")
        try:
            tz = zone(tz_name)
        except QueryError as exc:
            raise ConfigError(str(exc)) from None
        return cls(cron.strip(), tz)

    def latest(self, now: datetime) -> datetime:
        """The latest scheduled time at or before `now` (aware, UTC)."""
        local = now.astimezone(self.tz)
        it = croniter(self.cron, local + timedelta(microseconds=1))
        return it.get_prev(datetime).astimezone(UTC)

    def before(self, t: datetime) -> datetime:
        return croniter(self.cron, t.astimezone(self.tz)).get_prev(datetime).astimezone(UTC)


class DigestState(Protocol):
    def last_end(self) -> datetime | None: ...
    def set_last_end(self, t: datetime) -> None: ...
    def try_lock(self, slot: datetime) -> bool: ...
    def unlock(self, slot: datetime) -> None: ...


class RedisDigestState:
    def __init__(self, client: Any, prefix: str = _KEY) -> None:
        self.r, self.prefix = client, prefix

    def last_end(self) -> datetime | None:
        raw = self.r.get(self.prefix + "last_end")
        return datetime.fromtimestamp(int(raw), UTC) if raw is not None else None

    def set_last_end(self, t: datetime) -> None:
        set_forward(self.r, self.prefix + "last_end", int(t.timestamp()))

    def try_lock(self, slot: datetime) -> bool:
        key = f"{self.prefix}lock:{int(slot.timestamp())}"
        return bool(self.r.set(key, os.getpid(), nx=True, px=int(LOCK_TTL.total_seconds() * 1000)))

    def unlock(self, slot: datetime) -> None:
        self.r.delete(f"{self.prefix}lock:{int(slot.timestamp())}")


class FileDigestState:
    """One JSON file, changed under an exclusive flock (processes of one machine)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            text = f.read()
            try:
                data = json.loads(text) if text.strip() else {}
            except ValueError:
                log.warning("digest state file %s is not JSON; starting afresh", self.path)
                data = {}
            before = json.dumps(data, sort_keys=True)  # text, so a change deep inside an entry counts too
            yield data
            if json.dumps(data, sort_keys=True) != before:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data), encoding="utf-8")
                os.replace(tmp, self.path)

    def last_end(self) -> datetime | None:
        with self._locked() as d:
            v = d.get("digest_last_end")
        return datetime.fromtimestamp(int(v), UTC) if v is not None else None

    def set_last_end(self, t: datetime) -> None:
        with self._locked() as d:
            if int(d.get("digest_last_end") or 0) < int(t.timestamp()):
                d["digest_last_end"] = int(t.timestamp())

    def try_lock(self, slot: datetime) -> bool:
        now = datetime.now(UTC).timestamp()
        with self._locked() as d:
            held = d.get("digest_lock") or {}
            if held.get("slot") == int(slot.timestamp()) and held.get("until", 0) > now:
                return False
            d["digest_lock"] = {"slot": int(slot.timestamp()), "until": now + LOCK_TTL.total_seconds()}
            return True

    def unlock(self, slot: datetime) -> None:
        with self._locked() as d:
            if (d.get("digest_lock") or {}).get("slot") == int(slot.timestamp()):
                d.pop("digest_lock", None)


Post = Callable[[Window], None]  # sweep that window and post it


class Digest:
    def __init__(self, schedule: Schedule, state: DigestState, post: Post) -> None:
        self.schedule, self.state, self.post = schedule, state, post

    def tick(self, now: datetime | None = None) -> Window | None:
        """Post the digest if one is due and this replica wins it; returns the window posted."""
        now = now or datetime.now(UTC)
        slot = self.schedule.latest(now)
        last = self.state.last_end()
        if last is None:
            # first start ever: the first digest (at the next scheduled time) covers one period
            self.state.set_last_end(slot)
            return None
        if last >= slot:
            return None
        if not self.state.try_lock(slot):
            return None  # another replica is posting this one
        try:
            last = self.state.last_end() or last  # it may have finished just before we locked
            if last >= slot:
                return None
            start = max(last, slot - MAX_SPAN)  # a very long outage: the latest quarter
            window = Window(start, slot)
            self.post(window)
            self.state.set_last_end(slot)
            log.info("digest posted for %s .. %s", window.start.isoformat(), window.end.isoformat())
            return window
        except Exception:
            self.state.unlock(slot)  # let the next tick (here or elsewhere) try again
            raise

    def run_forever(self, stop: threading.Event, interval: float = TICK_SECONDS) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("digest tick failed; trying again in %g s", interval)
            stop.wait(interval)


def start(engine: Engine, client: Any, settings: ServeSettings) -> threading.Event | None:
    """Start the digest thread of `fpcheck serve` when FPCHECK_SWEEP_CHANNEL is set; returns its stop event.
    Its state is kept with the process's Redis client when there is one, else in FPCHECK_STATE_FILE."""
    from bot.slack.sweep import digest_poster

    channel = settings.digest_channel
    if channel is None:
        return None
    schedule = Schedule.parse(settings.fpcheck_sweep_cron, settings.fpcheck_tz)
    redis = engine.wiring.redis
    state: DigestState = RedisDigestState(redis) if redis is not None else FileDigestState(settings.fpcheck_state_file)
    digest = Digest(schedule, state, digest_poster(client, channel, engine))
    stop = threading.Event()
    threading.Thread(target=digest.run_forever, args=(stop,), name="fpcheck-digest", daemon=True).start()
    log.info("digest: %s (%s) into %s", schedule.cron, settings.fpcheck_tz or "UTC", channel)
    return stop
