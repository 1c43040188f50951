"""The run's deadline (`FPCHECK_DEADLINE`), visible to every read the run makes.

A run sets one `Deadline` with `bound(...)`; the gatherer's worker threads inherit it (the
gatherer submits its reads in a copy of the caller's context).  The readers consult it:

- every HTTP timeout is clamped to the time left (`clamp`), so a read in flight ends by the deadline
  instead of holding the process for the whole per-call timeout;
- no new attempt starts once the deadline has passed (`check` raises `DeadlinePassed`), and no retry
  sleeps past it (`allows`);
- the client-side rate limiter does not wait past it either.

Outside a bound deadline (a reader used on its own) all of these are no-ops.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import requests

from checks.sources import SourceError

T = TypeVar("T")

# Below this, a read is not worth starting: it could not get an answer back in time.
MIN_USEFUL = 0.05


class DeadlinePassed(SourceError):
    """The run's deadline passed before this read could start (or retry)."""


class Deadline:
    def __init__(self, seconds: float, *, start: float | None = None) -> None:
        self.seconds = seconds
        self.at = (time.monotonic() if start is None else start) + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def passed(self) -> bool:
        return self.remaining() < MIN_USEFUL

    def sooner(self, other: Deadline | None) -> Deadline:
        return other if other is not None and other.at < self.at else self


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("fpcheck_deadline", default=None)


def current() -> Deadline | None:
    return _current.get()


@contextmanager
def bound(deadline: Deadline) -> Iterator[Deadline]:
    """Make `deadline` (or an earlier one already bound) the deadline of everything run inside."""
    effective = deadline.sooner(_current.get())
    token = _current.set(effective)
    try:
        yield effective
    finally:
        _current.reset(token)


def check() -> None:
    """Raise DeadlinePassed when the bound deadline has (all but) passed."""
    d = _current.get()
    if d is not None and d.passed:
        raise DeadlinePassed(f"the run's {d.seconds:g} s deadline passed before this read could start")


def expired() -> bool:
    """Whether a bound deadline has (all but) passed; False when none is bound."""
    d = _current.get()
    return d is not None and d.passed


def allows(wait: float) -> bool:
    """Whether waiting `wait` seconds (then trying again) still ends before the deadline."""
    d = _current.get()
    return d is None or wait + MIN_USEFUL < d.remaining()


def left(default: float = math.inf) -> float:
    """Seconds left (at least 0), or `default` when no deadline is bound."""
    d = _current.get()
    return default if d is None else max(0.0, d.remaining())


def clamp(timeout: Any) -> Any:
    """A requests-style timeout (seconds, or a (connect, read) pair) no longer than the time left."""
    d = _current.get()
    if d is None:
        return timeout
    check()
    room = max(MIN_USEFUL, d.remaining())
    if timeout is None:
        return room
    if isinstance(timeout, tuple):
        return tuple(room if t is None else min(float(t), room) for t in timeout)
    return min(float(timeout), room)


class DeadlineSession(requests.Session):
    """A requests Session whose every request is bounded by the run's deadline."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = clamp(kwargs.get("timeout"))
        return super().request(method, url, *args, **kwargs)


class DeadlinePool(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in a copy of the submitter's context: reads fanned out
    to its threads see the run's deadline like the submitting thread does."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
