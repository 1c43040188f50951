"""Make text from Stripe and FirstPromoter safe to print on a terminal.

Promoter names, account names, coupon names and the like are chosen by people outside the
company.  Printed raw, an escape sequence in one could clear a line or recolour a FAIL, and a
bidi override (U+202E) could reverse what follows it.  Every control and format character is
shown as its escape (`\\x1b`, `\\u202e`) instead; line breaks and tabs become one space so a value
cannot start a fake line of the report.  JSON and Slack have their own escaping and do not use this.
"""

from __future__ import annotations

import re
import unicodedata

# Cc: C0, DEL and C1 controls (ESC, CSI ...); Cf: format characters (bidi overrides and isolates,
# zero-width characters, tag characters); Cs: lone surrogates, which cannot even be encoded.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_BREAKS = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def _shown(ch: str) -> str:
    return ascii(ch)[1:-1] if unicodedata.category(ch) in _HIDDEN_CATEGORIES else ch


def visible(text: str) -> str:
    """`text` with line breaks as spaces and every other control or format character escaped."""
    text = _BREAKS.sub(" ", text)
    if text.isprintable():  # the common case: nothing to look at character by character
        return text
    return "".join(_shown(ch) for ch in text)
