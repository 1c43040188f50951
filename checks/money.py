"""Money as Stripe gives it (integer minor units + a lowercase currency code), for people to read.

Stripe amounts are in the currency's smallest unit: cents for USD, whole yen for JPY (a
"zero-decimal" currency), thousandths for the three-decimal ones.  Getting that wrong turns ¥500
into "¥5.00", so every amount a check shows goes through `fmt`.
"""

from __future__ import annotations

# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
# https://docs.stripe.com/currencies#three-decimal
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])

# Prefix symbols for the currencies support teams see most; others read "12.50 SEK".
_SYMBOLS = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "jpy": "¥",
    "cad": "CA$",
    "aud": "A$",
    "nzd": "NZ$",
    "hkd": "HK$",
    "mxn": "MX$",
    "brl": "R$",
    "inr": "₹",
    "krw": "₩",
    "cny": "CN¥",
}

# Stripe's minimum charge per currency, in minor units
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).  Below it Stripe does
# not charge at all: an invoice is marked paid with nothing collected.
STRIPE_MINIMUM_CHARGE = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}

# FirstPromoter's troubleshooting guide: the amount paid must be "greater than $0.5".
FP_MINIMUM_USD = 50


def exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (0 for JPY, 2 for USD, 3 for KWD)."""
    cur = currency.lower()
    if cur in ZERO_DECIMAL:
        return 0
    if cur in THREE_DECIMAL:
        return 3
    return 2


def fmt(amount: int, currency: str) -> str:
    """`fmt(2900, "usd")` -> "$29.00"; `fmt(500, "jpy")` -> "¥500"; `fmt(1250, "sek")` -> "12.50 SEK"."""
    cur = (currency or "").lower()
    places = exponent(cur)
    sign = "-" if amount < 0 else ""
    major = abs(amount) / (10**places)
    number = f"{major:,.{places}f}"
    symbol = _SYMBOLS.get(cur)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {cur.upper() or '(no currency)'}"


def minimum_charge(currency: str) -> int | None:
    """Stripe's minimum charge for the currency in minor units, or None when fpcheck does not know it."""
    return STRIPE_MINIMUM_CHARGE.get((currency or "").lower())
