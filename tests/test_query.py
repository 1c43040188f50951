"""What people type: emails, Slack's mailto wrapping, customer ids, and anything else at all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack.text import parse_query
from checks.query import MAX_LENGTH, QueryError


@pytest.mark.parametrize(
    "text, email, customer_id",
    [
        ("jane@example.com", "jane@example.com", None),
        ("  Jane.Doe+promo@Example.co.uk ", "Jane.Doe+promo@Example.co.uk", None),
        ("<mailto:jane@example.com|jane@example.com>", "jane@example.com", None),
        ("mailto:jane@example.com", "jane@example.com", None),
        ("cus_Q1a2B3c4D5e6F7", None, "cus_Q1a2B3c4D5e6F7"),
    ],
)
def test_accepted(text: str, email: str | None, customer_id: str | None) -> None:
    q = parse_query(text)
    assert (q.email, q.customer_id) == (email, customer_id)


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "Give one"),
        ("jane", "not an email"),
        ("jane@example", "not an email"),
        ("a@b.com c@d.com", "exactly one"),
        ("cus_", "not a valid Stripe customer id"),
        ("x" * (MAX_LENGTH + 1), "characters long"),
        ("<@U024BE7LH>", "not an email"),
    ],
)
def test_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(QueryError) as exc:
        parse_query(text)
    assert words in str(exc.value)
    assert "\n" not in str(exc.value)


def test_bad_input_is_not_echoed_as_slack_markup() -> None:
    with pytest.raises(QueryError) as exc:
        parse_query("<!channel>")
    assert "<!channel>" not in str(exc.value) and "<" not in str(exc.value)


@pytest.mark.parametrize(
    "text, shown",
    [("cus_abc!def", "“cus_abc!def”"), ("jane@@example.com", "“jane@@example.com”"),
     ("\x1b[2Jjane@exa\u202emple", "“[2Jjane@example”")],
)
def test_a_refused_query_is_echoed_readably(text: str, shown: str) -> None:
    with pytest.raises(QueryError) as exc:
        parse_query(text)
    assert shown in str(exc.value)


@pytest.mark.parametrize("email", ["jane@münchen.de", "jürgen@example.com", "山田@例え.jp", "jane@xn--mnchen-3ya.de"])
def test_internationalised_emails_are_emails(email: str) -> None:
    assert parse_query(email).email == email


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_query_or_a_reason(text: str) -> None:
    try:
        q = parse_query(text)
    except QueryError as exc:
        assert str(exc) and "\n" not in str(exc) and len(str(exc)) < 200
    else:
        assert (q.email is None) != (q.customer_id is None)
        assert q.raw in text
