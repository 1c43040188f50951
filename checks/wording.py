"""How a verdict is worded, in one place, so the terminal and Slack say the same thing.

Each face adds its own markup and escaping around these plain words (Slack bolds the cause and
escapes &, <, >; the terminal colours the line and makes control characters visible).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the model costs pydantic; wording needs only its attributes
    from checks.model import Report

MOST_LIKELY_CAUSE = "Most likely cause"


@dataclass(frozen=True)
class VerdictWords:
    """`cause` is the failing check's title (only for a failure); `summary` says what was found."""

    cause: str | None
    summary: str

    def plain(self) -> str:
        return f"{MOST_LIKELY_CAUSE}: {self.cause}: {self.summary}" if self.cause else self.summary


def verdict_words(report: Report) -> VerdictWords:
    v = report.verdict
    if v.status.value != "fail":
        return VerdictWords(cause=None, summary=v.summary)
    result = report.result(v.check) if v.check else None
    cause = result.title if result is not None else v.check
    return VerdictWords(cause=cause or "unknown", summary=v.summary)
