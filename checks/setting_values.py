"""Checks of single setting values, shared by the engine's and the Slack face's settings.

Every message names what is wrong and never repeats the value: it may be a secret.
"""

from __future__ import annotations

import math
import re
from typing import Literal
from urllib.parse import urlsplit

_CONTROL_OR_NON_ASCII = re.compile(r"[^\x21-\x7e]")  # printable ASCII without space


def clean_secret(value: object) -> object:
    """Strip surrounding whitespace (a secret read from a file often ends in a newline) and refuse
    any control, space or non-ASCII character left inside: HTTP headers cannot carry them and they
    are always a copy-paste accident."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    if not value:
        return None
    if _CONTROL_OR_NON_ASCII.search(value):
        raise ValueError(
            "contains a space, control or non-ASCII character; copy the value again (it is not shown here)"
        )
    return value


def seconds(value: float, *, zero_ok: bool) -> float:
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = "0 or more" if zero_ok else "greater than 0"
        raise ValueError(f"must be a finite number of seconds, {bound}")
    return value


def http_url(value: object) -> object:
    """An http(s) URL with a host; surrounding whitespace stripped."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a port that is not a number
        ok = False
    if not ok or _CONTROL_OR_NON_ASCII.search(value):
        raise ValueError("must be an http:// or https:// URL with a host, like https://api.example.com")
    return value


def key_mode(key: str | None) -> Literal["live", "test"] | None:
    """The mode a Stripe secret or restricted key works in, from its prefix; None for any other value."""
    if (key or "").startswith(("sk_live_", "rk_live_")):
        return "live"
    if (key or "").startswith(("sk_test_", "rk_test_")):
        return "test"
    return None


def stripe_key_problem(key: str) -> str | None:
    """What a value given as a Stripe secret key looks like instead, or None when it is one."""
    if re.match(r"^(sk|rk)_(live|test)_[A-Za-z0-9]+$", key):
        return None
    if key.startswith("pk_"):
        return "is a publishable key (pk_), which cannot read customers"
    if key.startswith(("sk_", "rk_")):
        return "looks like a Stripe key but is cut short or malformed"
    if key.startswith("whsec_"):
        return "is a Stripe webhook signing secret (whsec_), not an API key"
    if key.startswith(("xoxb-", "xoxp-", "xapp-", "xox")):
        return "is a Slack token, not a Stripe key"
    return "is not a Stripe key (perhaps another service's, such as FirstPromoter's API key)"


def firstpromoter_key_problem(key: str) -> str | None:
    if re.match(r"^(sk|rk|pk)_(live|test)_", key):
        return "is a Stripe key; it needs FirstPromoter's V2 API key (Settings → Integrations → Manage API Keys)"
    if key.startswith(("xoxb-", "xoxp-", "xapp-")):
        return "is a Slack token; it needs FirstPromoter's V2 API key"
    return None
