"""The sweep's time window: `--since 7d` or `--from DATE --to DATE`, read in FPCHECK_TZ (UTC by default)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from checks.query import QueryError

MAX_SPAN = timedelta(days=93)  # a quarter: longer sweeps are a report, not an alert
_SINCE = re.compile(r"^\s*(\d{1,4})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


@dataclass(frozen=True)
class Window:
    start: datetime  # aware, inclusive
    end: datetime  # aware, inclusive

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def label(self) -> str:
        """"7 days", "36 hours": how long the window is, for the summary line."""
        hours = self.span.total_seconds() / 3600
        if hours < 48:
            return f"{round(hours)} hours"
        return f"{round(hours / 24)} days"

    def to_json(self) -> dict[str, str]:
        return {"from": _iso(self.start), "to": _iso(self.end)}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: str | None) -> tzinfo:
    """FPCHECK_TZ as a time zone (an IANA name such as Europe/Paris); UTC when unset."""
    if not name or not name.strip():
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError(f"FPCHECK_TZ: unknown time zone {name.strip()[:40]!r} (use an IANA name, e.g. Europe/Paris)") from None


def parse_since(text: str, now: datetime) -> Window:
    m = _SINCE.match(text or "")
    if not m:
        raise QueryError(f"--since takes a length such as 24h, 7d or 2w, not {text.strip()[:20]!r}")
    n, unit = int(m.group(1)), m.group(2).lower()
    if n == 0:
        raise QueryError("--since must be longer than 0")
    span = _UNITS[unit] * n
    if span > MAX_SPAN:
        raise QueryError(f"--since {text.strip()} is longer than the {MAX_SPAN.days} days a sweep covers")
    return Window(now - span, now)


def _parse_moment(text: str, tz: tzinfo, *, end: bool, flag: str) -> datetime:
    raw = (text or "").strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            d = date.fromisoformat(raw)
            # a bare date is the whole day in FPCHECK_TZ: --to 2026-11-30 includes that day
            return datetime.combine(d, time.max if end else time.min, tzinfo=tz)
        t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{flag} takes a date (2026-11-01) or a date and time (2026-11-01T09:00), not {raw[:30]!r}") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=tz)


def parse_window(
    since: str | None, start: str | None, end: str | None, *, now: datetime, tz: tzinfo = UTC
) -> Window:
    """The window the flags ask for; QueryError (exit 2) on anything ambiguous or impossible."""
    if since and (start or end):
        raise QueryError("give either --since or --from/--to, not both")
    if since:
        return parse_since(since, now)
    if not start and not end:
        return parse_since("7d", now)
    if not start:
        raise QueryError("--to needs --from")
    w_start = _parse_moment(start, tz, end=False, flag="--from")
    w_end = _parse_moment(end, tz, end=True, flag="--to") if end else now
    if w_end > now:
        w_end = now  # payments cannot come from the future; the rest of today is not over yet
    if w_start >= w_end:
        raise QueryError("--from must be before --to (and before now)")
    if w_end - w_start > MAX_SPAN:
        raise QueryError(f"the window is longer than the {MAX_SPAN.days} days a sweep covers")
    return Window(w_start.astimezone(UTC), w_end.astimezone(UTC))
