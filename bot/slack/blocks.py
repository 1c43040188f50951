"""Report -> Slack Block Kit.  Pure functions: no I/O, no Slack client, easy to test.

Slack's limits are respected by cutting, and the cut says so: 50 blocks per message, 3,000
characters per section, and roughly 12,000 characters of text per message (`msg_blocks_too_long`
beyond that).  Everything that comes from outside (summaries, evidence values, emails) is escaped,
so a customer named `<!channel>` cannot ping a channel, and its invisible characters are shown as
the terminal shows them; every mrkdwn text is `verbatim`, so Slack does not turn a bare URL,
#channel or @here in a promoter's name into a link or a mention.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.visible import visible
from checks.model import Report, Result, Status
from checks.wording import MOST_LIKELY_CAUSE, verdict_words

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_TOTAL_CHARS = 11_000  # below Slack's ~12k, with room for block containers
MAX_EVIDENCE_LINES = 8
MAX_FALLBACK_CHARS = 1500
RERUN_ACTION_ID = "fpcheck_rerun"
NOTE_BLOCK_ID = "fpcheck_note"
MAX_BUTTON_VALUE = 2000

STATUS_EMOJI: dict[Status, str] = {
    Status.PASS: ":white_check_mark:",
    Status.FAIL: ":x:",
    Status.WARN: ":warning:",
    Status.SKIP: ":heavy_minus_sign:",
    Status.ERROR: ":exclamation:",
}
CUT_NOTE = "… _(cut to fit Slack's message limits)_"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are special (they start links and mentions).  Line
    breaks become spaces and zero-width, bidi and control characters their escapes (`\\u202e`), as in
    the terminal (bot/visible.py): an upstream name can neither fake a line nor reorder one."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> Block:
    """A mrkdwn text object Slack takes as written: our own <links> and <@mentions> still work, but
    it does not auto-link a bare URL or #channel, nor parse @here, in what came from upstream."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def link(url: str | None, label: str) -> str:
    """`<url|label>` for http(s) urls; the escaped label alone for anything else."""
    shown = escape(label) or "link"
    if not url or not re.match(r"^https?://[^\s<>|]+$", url):
        return shown
    return f"<{url}|{shown.replace('|', '¦')}>"


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(CUT_NOTE))].rstrip() + CUT_NOTE


def user_ref(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id and re.match(r"^[UW][A-Z0-9]+$", user_id) else "someone"


# ---------------------------------------------------------------- the Run again button


@dataclass(frozen=True)
class Rerun:
    """What the Run again button carries: the query, the parent message to refresh (if it is ours)
    and who asked first.  Slack signs the payload that brings it back, so it cannot be forged."""

    query: str
    parent_ts: str | None = None
    asked_by: str | None = None

    def to_value(self) -> str:
        value = json.dumps({"q": self.query, "p": self.parent_ts, "a": self.asked_by}, separators=(",", ":"))
        if len(value) > MAX_BUTTON_VALUE:  # queries are at most 320 characters, so this cannot happen
            raise ValueError("button value too long")
        return value

    @classmethod
    def from_value(cls, value: str | None) -> Rerun | None:
        try:
            data = json.loads(value or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("q"), str):
            return None
        parent, asker = data.get("p"), data.get("a")
        return cls(
            query=data["q"],
            parent_ts=parent if isinstance(parent, str) else None,
            asked_by=asker if isinstance(asker, str) else None,
        )


# Buttons drawn beside Run again by other modules: bot/slack/fix.py's "Fix…" under a failed report
# when FPCHECK_ALLOW_FIXES is on (set each time an app is built)
EXTRA_BUTTONS: list[Callable[[Report, Rerun], Block | None]] = []


# ---------------------------------------------------------------- text pieces


def verdict_text(report: Report) -> str:
    """One mrkdwn line: the verdict, and for a failure, the most likely cause (worded as in the terminal)."""
    words = verdict_words(report)
    emoji = STATUS_EMOJI[report.verdict.status]
    if words.cause:
        return f"{emoji} {MOST_LIKELY_CAUSE}: *{escape(words.cause)}*: {escape(words.summary)}"
    return f"{emoji} {escape(words.summary)}"


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def counts_text(report: Report) -> str:
    order = (Status.FAIL, Status.WARN, Status.ERROR, Status.PASS, Status.SKIP)
    parts = [f"{sum(r.status is s for r in report.checks)} {s.value}" for s in order]
    return f"{len(report.checks)} checks: " + ", ".join(p for p in parts if not p.startswith("0 "))


def fallback_text(report: Report) -> str:
    """The notification / screen-reader text that goes with every block message."""
    v, words = report.verdict, verdict_words(report)
    cause = f" ({words.cause})" if words.cause else ""
    text = f"fpcheck {report.query}: {v.status.value.upper()}{cause}: {words.summary} {counts_text(report)}."
    return cut(escape(text), MAX_FALLBACK_CHARS)


def parent_text(report: Report, asked_by: str | None) -> str:
    """The short channel message under which the full report is threaded."""
    line = f"{user_ref(asked_by)} checked *{escape(report.query)}*: {verdict_text(report)}"
    return cut(line, MAX_SECTION_CHARS - 40) + "\n_Full report in the thread._"


def parent_blocks(report: Report, asked_by: str | None) -> list[Block]:
    return [_section(parent_text(report, asked_by))]


def _evidence_line(label: str, value: str, url: str | None) -> str:
    shown = link(url, value or "open") if url else escape(value)
    return f"• {escape(label)}: {shown}"


def check_text(result: Result, *, full: bool = True) -> str:
    """One check as mrkdwn: status emoji, title, summary; evidence; remediation under fail/warn.

    `full=False` is the compact form used when the message runs out of room.
    """
    head = f"{STATUS_EMOJI[result.status]} *{escape(result.title)}*: {escape(result.summary)}"
    if not full:
        return cut(head, 600)
    lines = [head]
    bad = result.status in (Status.FAIL, Status.WARN, Status.ERROR)
    # for passing checks only the links are worth the room: they let support verify in one click
    evidence = [e for e in result.evidence if bad or (e.url and result.status is Status.PASS)]
    for e in evidence[:MAX_EVIDENCE_LINES]:
        lines.append(_evidence_line(e.label, e.value, e.url))
    if len(evidence) > MAX_EVIDENCE_LINES:
        lines.append(f"• … and {len(evidence) - MAX_EVIDENCE_LINES} more")
    if result.remediation and result.status in (Status.FAIL, Status.WARN):
        lines.append(f"*Fix:* {escape(result.remediation)}")
    return cut("\n".join(lines), MAX_SECTION_CHARS)


# ---------------------------------------------------------------- blocks


def _section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(cut(text, MAX_SECTION_CHARS))}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(cut(text, MAX_SECTION_CHARS))]}


def report_blocks(
    report: Report,
    *,
    asked_by: str | None = None,
    rerun: Rerun | None = None,
    rerun_by: str | None = None,
    note: str | None = None,
) -> list[Block]:
    """The full report: verdict, one section per check, the Run again button, guide and timing."""
    top: list[Block] = []
    if note:
        top.append({**_section(note), "block_id": NOTE_BLOCK_ID})
    header = cut(f"fpcheck: {visible(report.query)}", MAX_HEADER_CHARS)
    top.append({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}})
    top.append(_section(verdict_text(report)))
    top.append({"type": "divider"})

    bottom: list[Block] = []
    if rerun is not None:
        bottom.append(
            {
                "type": "actions",
                "block_id": "fpcheck_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": RERUN_ACTION_ID,
                        "text": {"type": "plain_text", "text": "Run again", "emoji": True},
                        "value": rerun.to_value(),
                    },
                    *(e for draw in EXTRA_BUTTONS if (e := draw(report, rerun)) is not None),
                ],
            }
        )
    who = f"Asked by {user_ref(asked_by)}"
    if rerun_by:
        who += f", run again by {user_ref(rerun_by)}"
    bottom.append(
        _context(
            f"{who} · {counts_text(report)} · took {_seconds(report.duration_ms)} · "
            f"{link(report.guide_url, 'FirstPromoter troubleshooting guide')}"
        )
    )

    used = sum(_chars(b) for b in top + bottom)
    room_blocks = MAX_BLOCKS - len(top) - len(bottom) - 1  # keep one block for the "not shown" line
    body: list[Block] = []
    shown = 0
    for result in report.checks:
        if len(body) >= room_blocks:
            break
        text = check_text(result)
        if used + len(text) > MAX_TOTAL_CHARS - 300:
            text = check_text(result, full=False)  # out of room: keep the line, drop the detail
            if used + len(text) > MAX_TOTAL_CHARS - 300:
                break
        body.append(_section(text))
        used += len(text)
        shown += 1
    if shown < len(report.checks):
        left = len(report.checks) - shown
        body.append(
            _context(
                f"… {left} more check{'s' if left != 1 else ''} not shown (Slack's message limits). "
                f"Run `fpcheck check {escape(report.query)}` in a terminal for the full report."
            )
        )
    return top + body + bottom


def _chars(block: Block) -> int:
    """Text characters a block contributes to Slack's per-message total."""
    if block["type"] in ("section", "header"):
        return len(block["text"]["text"])
    if block["type"] == "context":
        return sum(len(e.get("text", "")) for e in block["elements"])
    if block["type"] == "actions":
        return sum(len(e["text"]["text"]) + len(e.get("value", "")) for e in block["elements"])
    return 0


def total_chars(blocks: list[Block]) -> int:
    return sum(_chars(b) for b in blocks)


# ---------------------------------------------------------------- short notices


NOT_IN_CHANNEL_NOTE = (
    ":information_source: I'm not a member of this channel, so only you can see this report. "
    "Invite me (`/invite @fpcheck`) for a threaded report the whole channel can see."
)


PRIVATE_NOTE = ":information_source: Only you can see this report."


def refused_note(error: str) -> str:
    return (
        f":information_source: Slack would not let me post in this channel (`{escape(error)}`), "
        "so only you can see this report."
    )


def failure_text(ref: str, query: str | None = None) -> str:
    about = f" {escape(query)}" if query else ""
    return (
        f":exclamation: Sorry, something went wrong while checking{about}. "
        f"Reference `{ref}`: give it to whoever runs fpcheck, it is in their log."
    )


def denial_text(
    allowed_channels: frozenset[str], allowed_users: frozenset[str], *, channel_denied: bool, what: str = "fpcheck"
) -> str:
    """Why the asker may not, and who may; `what` names what was refused ("A sweep")."""
    if channel_denied:
        where = ", ".join(f"<#{c}>" for c in sorted(allowed_channels))
        return f":no_entry: fpcheck runs only in {where}."
    who = ", ".join(f"<@{u}>" for u in sorted(allowed_users))
    return f":no_entry: {what} can be run only by {who}. Ask one of them, or ask an admin to add you."
