"""What a Slack message asked for: Slack's markup (mentions, `<mailto:…|…>`) taken off, then one query.

The engine's parser (checks/query.py) knows nothing of Slack; this is where Slack's way of writing
an email becomes the plain address.
"""

from __future__ import annotations

import re

from bot.slack.blocks import escape
from checks.facts import Query
from checks.query import MAX_LENGTH, QueryError
from checks.query import parse_query as parse_plain

HELP_WORDS = frozenset({"", "help", "-h", "--help", "?", "usage"})
USAGE = (
    "*How to use fpcheck*\n"
    "• `/fpcheck jane@example.com` or `/fpcheck cus_Q1a2B3c4D5e6F7`: checks why a FirstPromoter referral "
    "did not turn into a commission; the report is threaded under a short message in the channel.\n"
    "• In a thread, mention me instead (slash commands do not work in threads): `@fpcheck jane@example.com`.\n"
    "• Under a report, *Run again* re-checks (useful after a “too early” warning).\n"
    "• `/fpcheck sweep 7d` (or `24h`, `2w`): every payment of that period whose commission looks lost, "
    "grouped by cause, with a *Check* button for each person."
)
_MENTION = re.compile(r"<@[UWB][A-Z0-9]+(?:\|[^>]*)?>")
# Slack wraps emails in messages and mentions as <mailto:a@b.com|a@b.com>.
_MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")


def parse_query(text: str | None) -> Query:
    """The engine's parser, once a lone `<mailto:address|label>` is unwrapped to its address."""
    raw = (text or "").strip()
    # only a lone word, as before: a longer text gets the engine's own answer (too long, several words)
    m = _MAILTO.match(raw) if len(raw) <= MAX_LENGTH and len(raw.split()) == 1 else None
    return parse_plain(m.group(1) if m else raw)


class Parsed:
    """What the text asked for: a query, or the one-line reason it is not one (usage follows)."""

    def __init__(self, query: Query | None = None, problem: str | None = None) -> None:
        self.query, self.problem = query, problem


def parse_command_text(text: str | None) -> Parsed:
    raw = (text or "").strip()
    if raw.lower() in HELP_WORDS:
        return Parsed()
    try:
        return Parsed(parse_query(raw))
    except QueryError as exc:
        return Parsed(problem=str(exc))


def parse_mention_text(text: str | None) -> Parsed:
    """Mentions are written as sentences ("@fpcheck can you check <mailto:..>?"): accept one query
    anywhere in the text, once the mentions themselves are removed."""
    raw = _MENTION.sub(" ", text or "").strip()
    parsed = parse_command_text(raw)
    if parsed.query is not None or parsed.problem is None:
        return parsed
    found = []
    for word in raw.split():
        try:
            found.append(parse_query(word.strip(".,;:!?()\"'")))
        except QueryError:
            continue
    if len({q.raw for q in found}) == 1:
        return Parsed(found[0])
    return parsed


def usage_with(problem: str | None) -> str:
    return f":thinking_face: {escape(problem)}\n\n{USAGE}" if problem else USAGE
