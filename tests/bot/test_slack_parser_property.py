"""Whatever people type after /fpcheck or @fpcheck, the bot answers with a usage/problem message or
runs a valid query, never raises, and never echoes markup that would ping people.

Hypothesis mixes Slack's own markup (user, channel and group mentions, <!channel>, <!here>, mailto
and URL links), valid emails and customer ids, unicode (right-to-left marks, zero-width spaces,
emoji, other scripts, control characters) and very long strings.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st
from stand_ins.slack_api import BOT_USER_ID, _check_message

from bot.slack.blocks import MAX_HEADER_CHARS, MAX_SECTION_CHARS, fallback_text, parent_text, report_blocks
from bot.slack.text import (
    HELP_WORDS,
    USAGE,
    Parsed,
    parse_command_text,
    parse_mention_text,
    parse_query,
    usage_with,
)
from checks.facts import Query
from checks.model import Report, Result, Status, verdict_for
from checks.query import MAX_LENGTH

# `<@U…>`, `<@W…|name>`, `<#C…>`, `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`, `<!date…>`
PING = re.compile(r"<[@#!]")
ASKER = "U0ALICE"

MARKUP = [
    f"<@{BOT_USER_ID}>",
    "<@U024BE7LH>",
    "<@U123>",
    "<@W0ABCDEF|bob>",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0123ABC|@support>",
    "<#C0123ABCD|general>",
    "<!date^1392734382^{date}|Feb 18>",
    "<mailto:a@b.c|a@b.c>",
    "<mailto:jane@example.com|jane@example.com>",
    "<mailto:jane@example.com>",
    "<https://example.com|click>",
    "<https://example.com>",
    "jane@example.com",
    "mailto:jane@example.com",
    "cus_Q1a2B3c4D5e6F7",
    "cus_",
    "cus_!!",
    "@channel",
    "@here",
    "&lt;!channel&gt;",
    "*bold*",
    "`code`",
    "help",
    "?",
    "<",
    ">",
    "|",
    "@",
]
ODD = ["\n", "\t", " ", "\u00a0", "\u200b", "\u202e", "\u2028", "\x00", "\r\n", "é", "名前", "🎉", "ß", "İ"]

pieces = st.one_of(st.sampled_from(MARKUP), st.sampled_from(ODD), st.text(max_size=12))
mixed = st.lists(pieces, max_size=16).map("".join)
spaced = st.lists(pieces, max_size=10).map(" ".join)
long_text = st.builds(lambda piece, n: piece * n, pieces.filter(bool), st.integers(50, 4000))
any_text = st.one_of(st.none(), st.text(), mixed, spaced, long_text)

emails = st.from_regex(
    r"[a-z][a-z0-9._+-]{0,20}@[a-z][a-z0-9-]{0,12}(\.[a-z]{2,6}){1,2}", fullmatch=True
).filter(lambda e: ".." not in e)
filler = st.lists(
    st.sampled_from(["can", "you", "check", "please", "thanks!", "the", "customer", "🙏", "→"]), max_size=6
)


def assert_answerable(parsed: Parsed) -> None:
    """A valid query, or a one-line problem, or (for empty/help text) plain usage; never two."""
    assert isinstance(parsed, Parsed)
    if parsed.query is not None:
        assert parsed.problem is None
        assert_valid_query(parsed.query)
    elif parsed.problem is not None:
        problem = parsed.problem
        assert isinstance(problem, str) and problem and "\n" not in problem and len(problem) < 200


def assert_valid_query(q: Query) -> None:
    assert isinstance(q, Query)
    assert (q.email is None) != (q.customer_id is None)
    assert q.raw == (q.email or q.customer_id)
    assert q.raw and len(q.raw) <= MAX_LENGTH and not any(c.isspace() for c in q.raw)
    assert not set(q.raw) & set("<>|"), q.raw  # Slack's link markup was unwrapped, never kept
    if q.email is not None:
        local, _, domain = q.email.rpartition("@")
        tld = domain.rsplit(".", 1)[-1]
        # internationalised addresses are emails too; the top-level domain is letters or IDNA
        assert local and "." in domain and (tld.isalpha() or tld.startswith("xn--"))
    else:
        assert re.fullmatch(r"cus_[A-Za-z0-9]+", q.raw)
    assert parse_query(q.raw) == q  # what runs is what would run if typed plainly


def assert_safe_usage(parsed: Parsed) -> None:
    """The usage reply (the ack for /fpcheck, a whisper for a mention) echoes no ping markup."""
    text = usage_with(parsed.problem)
    assert USAGE in text
    assert not PING.search(text), text
    if parsed.problem is not None:
        shown = text[: text.index(USAGE)]
        assert shown.startswith(":thinking_face: ") and "<" not in shown and ">" not in shown
    assert len(text) < len(USAGE) + 300  # a 100 kB paste gets a short answer
    assert _check_message({"text": text}) is None  # Slack would take it


def assert_safe_report(q: Query) -> None:
    """A report about whatever was accepted renders inside Slack's limits and pings nobody
    (besides naming the asker); rules echo the query in their summaries, so this one does too."""
    result = Result(
        id="fp.referral",
        title="FirstPromoter referral",
        status=Status.FAIL,
        summary=f"{q.raw} is not a referral",
    )
    report = Report(query=q.raw, verdict=verdict_for([result]), checks=(result,))
    blocks = report_blocks(report, asked_by=ASKER)
    header = next(b for b in blocks if b["type"] == "header")
    assert len(header["text"]["text"]) <= MAX_HEADER_CHARS
    assert all(len(b["text"]["text"]) <= MAX_SECTION_CHARS for b in blocks if b["type"] == "section")
    assert _check_message({"text": fallback_text(report), "blocks": blocks}) is None
    for text in (str(blocks), parent_text(report, ASKER), fallback_text(report)):
        assert not PING.search(text.replace(f"<@{ASKER}>", "")), text


@settings(max_examples=400, deadline=None)
@given(any_text)
@example("<!channel>")
@example("<@U123> <!here>")
@example("<mailto:a@b.c|a@b.c>")
@example("x" * 100_000)
@example("\u202ejane@example.com")
def test_command_text_is_a_query_or_usage(text: str | None) -> None:
    parsed = parse_command_text(text)
    assert_answerable(parsed)
    if parsed.query is None and parsed.problem is None:
        assert (text or "").strip().lower() in HELP_WORDS
    if parsed.query is None:
        assert_safe_usage(parsed)
    else:
        assert_safe_report(parsed.query)


@settings(max_examples=400, deadline=None)
@given(any_text)
@example(f"<@{BOT_USER_ID}> <!channel> <!here>")
@example(f"<@{BOT_USER_ID}> " + "<@U123> " * 5000)
@example("<@U123|a@b.com> c@d.com")
def test_mention_text_is_a_query_or_usage(text: str | None) -> None:
    parsed = parse_mention_text(text)
    assert_answerable(parsed)
    if parsed.query is None:
        assert_safe_usage(parsed)
    else:
        assert_safe_report(parsed.query)


@settings(max_examples=200, deadline=None)
@given(emails, filler, filler, st.booleans(), st.sampled_from(["", "?", ".", "!", ","]))
def test_one_email_anywhere_in_a_mention_is_found(
    email: str, before: list[str], after: list[str], wrapped: bool, punct: str
) -> None:
    typed = f"<mailto:{email}|{email}>" if wrapped else email
    text = " ".join([f"<@{BOT_USER_ID}>", *before, typed + punct, *after])
    parsed = parse_mention_text(text)
    assert parsed.query is not None, (text, parsed.problem)
    assert parsed.query.email == email


@settings(max_examples=200, deadline=None)
@given(emails, emails, filler)
def test_two_different_emails_in_a_mention_are_not_guessed_between(a: str, b: str, words: list[str]) -> None:
    text = " ".join([f"<@{BOT_USER_ID}>", a, *words, b])
    parsed = parse_mention_text(text)
    if a == b:
        assert parsed.query is not None and parsed.query.email == a
    else:
        assert parsed.query is None and parsed.problem  # usage, with the reason
        assert_safe_usage(parsed)
