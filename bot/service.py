"""Run a check for a person, whatever face asked: parse → allow → run → audit, and a reference id
the asker can quote when something fails.

A face (the terminal, Slack) turns what it received into text and an Asker, calls `admit` once,
then `run` and one of `delivered` / `expired` / `failed`; it words every answer itself.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

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
class Denied:
    """The asker is not on the allow-list; `channel` says whether the channel (else the user) is why."""

    channel: bool


class TooLate(Exception):
    """The request waited for a worker until its deadline had passed: a report now would not help."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"waited {waited:.1f} s in the queue, past its deadline")
        self.waited = waited


class Service:
    """The engine behind an allow-list (empty sets allow everyone), with an audit line per run."""

    def __init__(
        self,
        engine: Checker,
        allowed_channels: frozenset[str] = frozenset(),
        allowed_users: frozenset[str] = frozenset(),
    ) -> None:
        self.engine = engine
        self.allowed_channels = allowed_channels
        self.allowed_users = allowed_users

    def denial(self, asker: Asker) -> Denied | None:
        if self.allowed_channels and asker.channel not in self.allowed_channels:
            return Denied(channel=True)
        if self.allowed_users and asker.user not in self.allowed_users:
            return Denied(channel=False)
        return None

    def admit(self, via: audit.Via, asker: Asker, query: Query, started: float) -> Request | Denied:
        """The request to run, or why not (audited as denied)."""
        denied = self.denial(asker)
        if denied is not None:
            self._record(via, new_ref(), asker, query.raw, "denied", None, time.monotonic(), "not on the allow-list")
            return denied
        return Request(via, asker, query, started)

    def run(self, request: Request, only: Iterable[str] | None = None) -> Report:
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

    # ------------------------------------------------------------------ the audit line of a run
    def delivered(
        self, request: Request, outcome: audit.Ending, report: Report, detail: str | None = None
    ) -> None:
        self._record(request.via, request.ref, request.asker, request.query.raw, outcome, report,
                     request.started, detail)

    def expired(self, request: Request, exc: TooLate) -> None:
        log.warning("fpcheck %s ref %s not checked: it waited %.1f s for a worker", request.via, request.ref,
                    exc.waited)
        self._record(request.via, request.ref, request.asker, request.query.raw, "expired", None, request.started,
                     f"waited {exc.waited:.1f} s in the queue")

    def failed(
        self,
        via: audit.Via,
        ref: str,
        asker: Asker,
        query: str,
        report: Report | None,
        started: float,
        exc: Exception,
        reason: str | None = None,
    ) -> None:
        """Log the exception under the reference id and audit the run as failed; `reason` is the face's
        short account of what went wrong (else the exception's type)."""
        reason = reason or type(exc).__name__
        log.exception("fpcheck %s run failed, ref %s: %s (%s)", via, ref, reason, str(exc)[:300])
        self._record(via, ref, asker, query, "failed", report, started, reason)

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
    ) -> None:
        audit.record(ref=ref, via=via, user=asker.user, channel=asker.channel, team=asker.team, query=query,
                     outcome=outcome, report=report, started=started, detail=detail)


__all__ = ["Asker", "Checker", "Denied", "QueryError", "Request", "Service", "TooLate", "new_ref", "parse"]
