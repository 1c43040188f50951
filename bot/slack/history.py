"""Each person's recent checks, for their App Home (bot/slack/home.py): a few per person, for a few
days, kept where the bot keeps its other shared state: in Redis when FPCHECK_REDIS_URL is set (every
replica then shows the same list), else in this process's memory.

`Remembering` is the service (bot/service.py) with a memory: every report delivered to someone,
whichever face asked (/fpcheck, @fpcheck, Run again, a shortcut, the modal), is remembered for them
once the face has delivered it.  The entries hold the query as typed (an email: the App Home shows it
only to the person who asked) and the verdict, never a report's evidence.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from bot.service import Delivery, Renderer, Request, Service
from checks.model import Report

log = logging.getLogger("fpcheck.slack")

PER_USER = 10  # entries kept per person
TTL = 7 * 86_400.0  # seconds an entry is kept: a week of escalations, no longer
MAX_USERS = 5_000  # people remembered in memory (the least recently active forgotten first)
_KEY = "fpcheck:history:"


@dataclass(frozen=True)
class Entry:
    """One check someone ran: what, how it came out, when (epoch seconds) and from where."""

    query: str
    status: str  # the verdict: pass, fail, warn, error
    cause: str | None  # the check the verdict blames, if any
    at: float
    via: str

    @classmethod
    def of(cls, request: Request, report: Report, at: float | None = None) -> Entry:
        return cls(request.query.raw, report.verdict.status.value, report.verdict.check,
                   time.time() if at is None else at, request.via)


class History(Protocol):
    def add(self, user: str, entry: Entry) -> None: ...

    def recent(self, user: str) -> list[Entry]:
        """The person's entries, newest first (at most PER_USER, none older than TTL)."""
        ...


class MemoryHistory:
    """Bounded twice (PER_USER per person, MAX_USERS people) and expiring; thread-safe."""

    def __init__(self, per_user: int = PER_USER, ttl: float = TTL, max_users: int = MAX_USERS,
                 clock: Callable[[], float] = time.time) -> None:
        self.per_user, self.ttl, self.max_users, self._clock = per_user, ttl, max_users, clock
        self._by_user: OrderedDict[str, deque[Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, user: str, entry: Entry) -> None:
        with self._lock:
            mine = self._by_user.pop(user, None) or deque(maxlen=self.per_user)
            mine.appendleft(entry)
            self._by_user[user] = mine  # most recently active last
            while len(self._by_user) > self.max_users:
                self._by_user.popitem(last=False)

    def recent(self, user: str) -> list[Entry]:
        since = self._clock() - self.ttl
        with self._lock:
            return [e for e in self._by_user.get(user, ()) if e.at > since]


class RedisHistory:
    """One Redis list per person (LPUSH, LTRIM to PER_USER, EXPIRE after TTL), so every replica
    shows the same list.  Redis not answering costs the list, never the check."""

    def __init__(self, client: Any, per_user: int = PER_USER, ttl: float = TTL, prefix: str = _KEY,
                 clock: Callable[[], float] = time.time) -> None:
        self.r, self.per_user, self.ttl, self.prefix, self._clock = client, per_user, ttl, prefix, clock

    def add(self, user: str, entry: Entry) -> None:
        key = self.prefix + user
        try:
            pipe = self.r.pipeline()
            pipe.lpush(key, json.dumps(asdict(entry), separators=(",", ":")))
            pipe.ltrim(key, 0, self.per_user - 1)
            pipe.expire(key, int(self.ttl))
            pipe.execute()
        except Exception as exc:  # redis.RedisError, OSError
            log.warning("history: Redis did not answer (%s); this check is not in the App Home", type(exc).__name__)

    def recent(self, user: str) -> list[Entry]:
        try:
            raw = self.r.lrange(self.prefix + user, 0, self.per_user - 1)
        except Exception as exc:
            log.warning("history: Redis did not answer (%s); the App Home shows no recent checks",
                        type(exc).__name__)
            return []
        since, out = self._clock() - self.ttl, []
        for item in raw:
            try:
                entry = Entry(**json.loads(item))
            except (TypeError, ValueError):
                continue  # not one of ours (or an older shape): skipped, never fatal
            if entry.at > since:
                out.append(entry)
        return out


def history_for(engine: object) -> History:
    """Redis when the engine's wiring has the process's Redis client (FPCHECK_REDIS_URL), else memory."""
    redis = getattr(getattr(engine, "wiring", None), "redis", None)
    return RedisHistory(redis) if redis is not None else MemoryHistory()


@dataclass(frozen=True)
class _Remembered:
    """A face's renderer that also remembers what it delivered (every other answer is the face's own)."""

    inner: Renderer
    history: History

    def deliver(self, request: Request, report: Report) -> Delivery:
        delivery = self.inner.deliver(request, report)
        if request.asker.user:
            try:
                self.history.add(request.asker.user, Entry.of(request, report))
            except Exception:  # the history is a convenience: it never fails a delivered report
                log.exception("history: could not remember a check")
        return delivery

    def too_late(self, request: Request, waited: float) -> None:
        self.inner.too_late(request, waited)

    def failed(self, request: Request) -> None:
        self.inner.failed(request)

    def reason(self, exc: Exception) -> str:
        return self.inner.reason(exc)


class Remembering(Service):
    """The service, whose every delivered report is remembered for the person who asked."""

    def __init__(self, *args: Any, history: History | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history: History = history if history is not None else MemoryHistory()

    def serve(self, request: Request, renderer: Renderer, only: Iterable[str] | None = None) -> Report | None:
        return super().serve(request, _Remembered(renderer, self.history), only)


__all__ = ["PER_USER", "TTL", "Entry", "History", "MemoryHistory", "RedisHistory", "Remembering", "history_for"]
