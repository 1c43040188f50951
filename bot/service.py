"""The whole request, whatever face asked: parse → allow-list → run (within the deadline) → deliver →
audit line, with a reference id the asker can quote when something fails.

A face is a listener and a renderer.  The listener reads what it received into an Asker and a
Readout (the query, or why there is none); the renderer words every answer: a Gate for requests that
are not run (usage, denial), a Renderer for those that are (the report, too late, failed).  `ask` is
the whole request; Slack's slash command, which must answer before the run, calls `admit` in its ack
and `serve` after.  The terminal has no allow-list or audit line: it calls `check`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot import audit
from checks import deadline
from checks.facts import Query
from checks.model import Report
from checks.query import QueryError, parse_query

log = logging.getLogger("fpcheck.slack")


class Checker(Protocol):
    """What a face needs from the engine (checks.engine.Engine)."""

    def check(self, query: Query, only: Iterable[str] | None = None) -> Report: ...

    @property
    def deadline(self) -> float:
        """Seconds one check may take (FPCHECK_DEADLINE), counted from when the request arrived."""
        ...


def new_ref() -> str:
    """A short id the asker can quote and the operator can grep for in the log."""
    return secrets.token_hex(4)


def parse(text: str | None) -> Query:
    """The one query in the text; QueryError says, in one line, why it is not one."""
    return parse_query(text)


class Readout(Protocol):
    """What a face read in the asker's text (bot.slack.text.Parsed is one): one query, or the
    one-line reason the text holds none (both None: nothing was asked, e.g. "help")."""

    @property
    def query(self) -> Query | None: ...

    @property
    def problem(self) -> str | None: ...


@dataclass(frozen=True)
class Read:
    """A Readout of plain text (see `read`)."""

    query: Query | None = None
    problem: str | None = None


def read(text: str | None) -> Read:
    """Plain text read for `ask`, for a face with no markup of its own to take off."""
    try:
        return Read(parse_query(text))
    except QueryError as exc:
        return Read(problem=str(exc))


@dataclass(frozen=True)
class Asker:
    user: str | None = None
    channel: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Request:
    """A parsed, allowed request: what to check, for whom, since when, under which reference id."""

    via: audit.Via
    asker: Asker
    query: Query
    started: float
    ref: str = field(default_factory=new_ref)


@dataclass(frozen=True)
class Limited:
    """Too many requests: `asked` were run in the last `window` seconds; one more may in `wait` s."""

    asked: int
    window: float
    wait: float


@dataclass(frozen=True)
class Denied:
    """The asker is not on the allow-list, or (`limited`) has asked too often; `channel` says whether
    the channel (else the user) is why, and the lists say who may (for the answer)."""

    channel: bool
    channels: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    limited: Limited | None = None


@dataclass(frozen=True)
class Limits:
    """How many requests one person, and one channel, may have run in any `window` seconds.  One
    person's burst would otherwise fill the workers and hold everyone else's report for its length."""

    per_user: int = 10  # 0: no limit per person
    per_channel: int = 30  # 0: no limit per channel
    window: float = 60.0


class Quota:
    """The requests run per user and per channel in the last window (this process's count)."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._runs: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, asker: Asker) -> Denied | None:
        """Count one more request for the asker and the channel, or say why not (nothing counted)."""
        now, lim = self._clock(), self.limits
        with self._lock:
            mine = self._recent(("user", asker.user or ""), now)
            here = self._recent(("channel", asker.channel or ""), now)
            for runs, most, is_channel in ((mine, lim.per_user, False), (here, lim.per_channel, True)):
                if most and len(runs) >= most:
                    return Denied(is_channel, limited=Limited(len(runs), lim.window, runs[0] + lim.window - now))
            mine.append(now)
            here.append(now)
        return None

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        runs = self._runs.setdefault(key, deque())
        while runs and runs[0] <= now - self.limits.window:
            runs.popleft()
        if len(self._runs) > 10_000:  # forget the idle, so a stream of new ids cannot grow this forever
            for idle in [k for k, v in self._runs.items() if not v and k != key]:
                del self._runs[idle]
        return runs


@dataclass(frozen=True)
class Delivery:
    """How the report reached the asker, for the audit line: where they asked ("delivered"), or
    privately instead ("fallback", `detail` says why)."""

    outcome: Literal["delivered", "fallback"] = "delivered"
    detail: str | None = None


DELIVERED = Delivery()


class Gate(Protocol):
    """How a face answers a request that is not run."""

    def unreadable(self, problem: str | None) -> None:
        """The text holds no one query (usage; `problem` says why, when there is a why)."""

    def denied(self, denied: Denied) -> None: ...


class Renderer(Protocol):
    """How a face answers a request that was run, or could not be."""

    def deliver(self, request: Request, report: Report) -> Delivery:
        """Show the report; what it raises is the run's failure (audited, then `failed`)."""
        ...

    def too_late(self, request: Request, waited: float) -> None: ...

    def failed(self, request: Request) -> None:
        """Tell the asker something went wrong, quoting `request.ref` (it is in the log)."""

    def reason(self, exc: Exception) -> str:
        """The audit line's short account of what went wrong, in the face's own terms."""
        ...


class Face(Gate, Renderer, Protocol):
    """Both: a face that answers only once its request has been read and run (`ask`)."""


class TooLate(Exception):
    """The request waited for a worker until its deadline had passed: a report now would not help."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"waited {waited:.1f} s in the queue, past its deadline")
        self.waited = waited


class Lanes:
    """One request at a time per person: the rest of theirs wait their turn, in order, and are run by
    the worker running theirs.  A burst from one person then takes one worker and one check's share
    of the upstream rate budgets, never everyone's (the per-minute limits cap how long it lasts)."""

    def __init__(self) -> None:
        self._waiting: dict[str, deque[Callable[[], None]]] = {}  # key -> queued behind the running one
        self._lock = threading.Lock()

    def run(self, key: str, work: Callable[[], None]) -> bool:
        """Run `work`, then whatever queued behind it (True); or queue it behind `key`'s running one (False)."""
        with self._lock:
            if key in self._waiting:
                self._waiting[key].append(work)
                return False
            self._waiting[key] = deque()
        while True:
            try:
                work()
            except Exception:  # serve answers its own failures: this is a bug, and the lane must go on
                log.exception("a queued request failed outside its own handling")
            with self._lock:
                if not self._waiting[key]:
                    del self._waiting[key]
                    return True
                work = self._waiting[key].popleft()


class Service:
    """The engine behind an allow-list (empty sets allow everyone) and, when given, per-user and
    per-channel limits, with an audit line per run."""

    def __init__(
        self,
        engine: Checker,
        allowed_channels: frozenset[str] = frozenset(),
        allowed_users: frozenset[str] = frozenset(),
        sweep_users: frozenset[str] = frozenset(),
        limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.allowed_channels = allowed_channels
        self.allowed_users = allowed_users
        self.sweep_users = sweep_users  # empty: whoever may check may sweep
        self.quota = Quota(limits) if limits is not None else None
        self.lanes = Lanes() if limits is not None else None

    def denial(self, asker: Asker, users: frozenset[str] | None = None) -> Denied | None:
        """Why the asker may not (`users`: the people allowed instead of allowed_users), else None."""
        users = self.allowed_users if users is None else users
        if self.allowed_channels and asker.channel not in self.allowed_channels:
            return Denied(True, self.allowed_channels, users)
        if users and asker.user not in users:
            return Denied(False, self.allowed_channels, users)
        return None

    def sweep_denial(self, asker: Asker) -> Denied | None:
        """A sweep posts many customers' emails and payments: FPCHECK_SWEEP_USERS when set."""
        return self.denial(asker, self.sweep_users or self.allowed_users)

    # ------------------------------------------------------------------ a sweep (bot/slack/sweep.py)
    def admit_sweep(self, asker: Asker, text: str, started: float, window: dict[str, object]) -> Denied | None:
        """None when the asker may sweep now (it counts as one request against the limits); else why
        not, with its audit line."""
        denied = self.sweep_denial(asker)
        refusal = denied or self.limit(asker)
        if refusal is not None:
            outcome: audit.Ending = "denied" if denied is not None else "limited"
            detail = "not on the sweep allow-list" if denied is not None else "too many requests in the last minute"
            self._record("sweep", new_ref(), asker, text, outcome, None, started, detail, window)
        return refusal

    def swept(
        self, ref: str, asker: Asker, text: str, started: float, counts: dict[str, object], error: str | None = None
    ) -> None:
        """The sweep's one audit line, once run: its window and counts (never a customer's email), or
        what went wrong (`error`)."""
        self._record("sweep", ref, asker, text, "failed" if error else "delivered", None, started, error, counts)

    def limit(self, asker: Asker) -> Denied | None:
        """Count one request against the asker's and the channel's limits, or say why not."""
        return self.quota.take(asker) if self.quota is not None else None

    # ------------------------------------------------------------------ the request, for every face
    def ask(
        self, via: audit.Via, asker: Asker, text: Readout, started: float, face: Face,
        only: Iterable[str] | None = None,
    ) -> Report | None:
        """The whole request: `admit`, then `serve`.  The report the asker got, else None."""
        request = self.admit(via, asker, text, started, face)
        return None if request is None else self.serve(request, face, only)

    def admit(self, via: audit.Via, asker: Asker, text: Readout, started: float, gate: Gate) -> Request | None:
        """The request to run, or None once the gate has said why not: no query in the text (not
        audited: nothing was asked, unless a button was pressed), not on the allow-list (audited as
        denied), or over the per-user or per-channel limit (audited as limited)."""
        if text.query is None:
            if via in ("button", "sweep_check"):  # a press always asks: its button held no query
                self._record(via, new_ref(), asker, "", "failed", None, started,
                             f"the button holds no email or cus_ id: {text.problem or 'empty'}")
            gate.unreadable(text.problem)
            return None
        denied = self.denial(asker)
        if denied is not None:
            self._record(via, new_ref(), asker, text.query.raw, "denied", None, time.monotonic(),
                         "not on the allow-list")
            gate.denied(denied)
            return None
        limited = self.limit(asker)
        if limited is not None and limited.limited is not None:
            self._record(via, new_ref(), asker, text.query.raw, "limited", None, time.monotonic(),
                         f"{'channel' if limited.channel else 'user'} ran {limited.limited.asked} in "
                         f"{limited.limited.window:.0f} s")
            gate.denied(limited)
            return None
        return Request(via, asker, text.query, started)

    def serve(self, request: Request, renderer: Renderer, only: Iterable[str] | None = None) -> Report | None:
        """Run the admitted request within its deadline and have the renderer deliver the report, or
        say it came too late or failed; then its one audit line.  The report delivered, else None
        (None too, at once, for a request that waits its turn behind the asker's own: see Lanes)."""
        if self.lanes is None:
            return self._serve(request, renderer, only)
        mine: list[Report | None] = []
        self.lanes.run(request.asker.user or "", lambda: mine.append(self._serve(request, renderer, only)))
        return mine[0] if mine else None

    def _serve(self, request: Request, renderer: Renderer, only: Iterable[str] | None = None) -> Report | None:
        report: Report | None = None
        try:
            report = self._run(request, only)
            delivery = renderer.deliver(request, report)
        except TooLate as exc:
            self._expired(request, exc)
            waited = exc.waited
            self._tell(request, lambda: renderer.too_late(request, waited), "that it came too late")
            return None
        except Exception as exc:
            self._failed(request, report, exc, renderer.reason(exc))
            self._tell(request, lambda: renderer.failed(request), "either")
            return None
        self._record(request.via, request.ref, request.asker, request.query.raw, delivery.outcome, report,
                     request.started, delivery.detail)
        return report

    def _run(self, request: Request, only: Iterable[str] | None = None) -> Report:
        """The engine's report, within the deadline counted from when the request arrived."""
        seconds = getattr(self.engine, "deadline", None)
        if not isinstance(seconds, int | float):
            return self.check(request.query, only)
        limit = deadline.Deadline(seconds, start=request.started)
        if limit.remaining() < min(2.0, seconds / 4):
            # (all but) past its deadline: every read would fail at once, and a report made only of
            # "no answer within the deadline" would not help the asker
            raise TooLate(time.monotonic() - request.started)
        with deadline.bound(limit):
            return self.check(request.query, only)

    def check(self, query: Query, only: Iterable[str] | None = None) -> Report:
        """The engine's report with no allow-list, audit or deadline of its own: for the terminal, where the
        operator runs it and the command's own deadline bounds it."""
        return self.engine.check(query) if only is None else self.engine.check(query, only=only)

    # ------------------------------------------------------------------ when it did not go well
    def _expired(self, request: Request, exc: TooLate) -> None:
        log.warning("fpcheck %s ref %s not checked: it waited %.1f s for a worker", request.via, request.ref,
                    exc.waited)
        self._record(request.via, request.ref, request.asker, request.query.raw, "expired", None, request.started,
                     f"waited {exc.waited:.1f} s in the queue")

    def _failed(self, request: Request, report: Report | None, exc: Exception, reason: str) -> None:
        """Log the exception under the reference id and audit the run as failed (`report` is there
        when only its delivery failed)."""
        reason = reason or type(exc).__name__
        log.exception("fpcheck %s run failed, ref %s: %s (%s)", request.via, request.ref, reason, str(exc)[:300])
        self._record(request.via, request.ref, request.asker, request.query.raw, "failed", report,
                     request.started, reason)

    @staticmethod
    def _tell(request: Request, answer: Callable[[], None], what: str) -> None:
        # the face could not answer (Slack unreachable, an expired response_url): the log is all there
        # is, under the request's own reference id
        try:
            answer()
        except Exception as exc:
            log.error("fpcheck %s ref %s: could not tell %s %s (%s)", request.via, request.ref, request.asker.user,
                      what, type(exc).__name__)

    @staticmethod
    def _record(
        via: audit.Via,
        ref: str,
        asker: Asker,
        query: str,
        outcome: audit.Ending,
        report: Report | None,
        started: float,
        detail: str | None,
        sweep: dict[str, object] | None = None,
    ) -> None:
        audit.record(ref=ref, via=via, user=asker.user, channel=asker.channel, team=asker.team, query=query,
                     outcome=outcome, report=report, started=started, detail=detail, sweep=sweep)


__all__ = [
    "DELIVERED", "Asker", "Checker", "Delivery", "Denied", "Face", "Gate", "Limited", "Limits", "Quota",
    "QueryError", "Read", "Readout", "Renderer", "Request", "Service", "TooLate", "new_ref", "parse", "read",
]
