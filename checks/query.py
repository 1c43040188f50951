"""Turn what a person typed (`jane@example.com`, `mailto:jane@example.com`, `cus_123`) into a Query.

Slack's own markup (`<mailto:...|...>`) is the Slack face's to unwrap (bot/slack/text.py)."""

from __future__ import annotations

import re
import unicodedata

from checks.facts import Query

# \w is Unicode: internationalised addresses (jürgen@example.com, jane@münchen.de) are emails too
_EMAIL = re.compile(r"^[\w.%+'-]+@[\w-]+(?:\.[\w-]+)*\.(?P<tld>[^\W\d_]{2,}|xn--[A-Za-z0-9-]+)$")
_CUSTOMER_ID = re.compile(r"^cus_[A-Za-z0-9]{1,64}$")
MAX_LENGTH = 320  # the longest valid email address is 254 characters

USAGE = (
    "Usage: fpcheck EMAIL or fpcheck cus_ID — for example `jane@example.com` or `cus_Q1a2B3c4D5e6F7`. "
    "Checks why a FirstPromoter referral did not turn into a commission."
)


class QueryError(ValueError):
    """The text is not one email or Stripe customer id; `str(exc)` says why, in one line."""


def parse_query(text: str | None) -> Query:
    raw = (text or "").strip()
    if not raw:
        raise QueryError("Give one customer email or Stripe customer id (cus_...).")
    if len(raw) > MAX_LENGTH:
        raise QueryError(f"That is {len(raw)} characters long; give one email or cus_ id.")
    words = raw.split()
    if len(words) != 1:
        raise QueryError("Give exactly one customer email or Stripe customer id, not several words.")
    word = words[0].strip("<>")
    if word.lower().startswith("mailto:"):
        word = word[len("mailto:") :]
    if _CUSTOMER_ID.match(word):
        return Query(raw=word, customer_id=word)
    if _is_email(word):
        return Query(raw=word, email=word)
    if word.startswith("cus_"):
        raise QueryError(f"{_shown(word)} is not a valid Stripe customer id (cus_ followed by letters and digits).")
    raise QueryError(f"{_shown(word)} is not an email address or a Stripe customer id.")


def _is_email(word: str) -> bool:
    m = _EMAIL.match(word)
    # \w also takes digits like ¹; a top-level domain is letters (or IDNA's xn--)
    return bool(m) and ".." not in word and (m["tld"].isalpha() or m["tld"].startswith("xn--"))


def _shown(word: str) -> str:
    """Echo bad input readably but safely: short, without the <...> of Slack markup (which could
    ping anyone) and without control or formatting characters (which could rewrite a terminal)."""
    cleaned = "".join(
        ch for ch in word if ch not in "<>" and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
    )[:60]
    return f"“{cleaned}”" if cleaned else "That"
