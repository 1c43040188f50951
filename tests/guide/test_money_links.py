"""Money formatting (zero- and three-decimal currencies, minimums) and Stripe dashboard links."""

from __future__ import annotations

import pytest
from factories import facts

from checks import links, money
from checks.facts import Fetch, StripeAccount


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (2900, "usd", "$29.00"),
        (1250, "eur", "€12.50"),
        (500, "jpy", "¥500"),
        (500, "JPY", "¥500"),
        (30, "gbp", "£0.30"),
        (123456789, "usd", "$1,234,567.89"),
        (1250, "sek", "12.50 SEK"),
        (5124, "kwd", "5.124 KWD"),
        (1500, "vnd", "1,500 VND"),
        (-500, "usd", "-$5.00"),
        (0, "usd", "$0.00"),
    ],
)
def test_fmt(amount: int, currency: str, text: str) -> None:
    assert money.fmt(amount, currency) == text


def test_zero_decimal_list_is_stripes() -> None:
    stripe_list = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
    assert stripe_list == money.ZERO_DECIMAL
    assert money.exponent("jpy") == 0 and money.exponent("usd") == 2 and money.exponent("bhd") == 3


def test_minimum_charge() -> None:
    assert money.minimum_charge("usd") == 50
    assert money.minimum_charge("EUR") == 50
    assert money.minimum_charge("gbp") == 30
    assert money.minimum_charge("jpy") == 50  # ¥50: whole yen
    assert money.minimum_charge("xyz") is None


def test_object_links_by_mode_and_account() -> None:
    live = links.Dashboard(live=True)
    test = links.Dashboard(live=False)
    scoped = links.Dashboard(account="acct_1X", live=False)
    assert live.customer("cus_1") == "https://dashboard.stripe.com/customers/cus_1"
    assert test.customer("cus_1") == "https://dashboard.stripe.com/test/customers/cus_1"
    assert scoped.customer("cus_1") == "https://dashboard.stripe.com/acct_1X/test/customers/cus_1"
    assert scoped.customer("cus_1", live=True) == "https://dashboard.stripe.com/acct_1X/customers/cus_1"
    assert test.invoice("in_1").endswith("/test/invoices/in_1")
    assert test.payment("pi_1").endswith("/test/payments/pi_1")
    assert test.payment("ch_1").endswith("/test/payments/ch_1")
    assert test.subscription("sub_1").endswith("/test/subscriptions/sub_1")
    assert test.promotion_code("promo_1").endswith("/test/promotion_codes/promo_1")
    # merchant-chosen coupon ids are quoted so a link never breaks
    assert test.coupon("50% OFF/now").endswith("/test/coupons/50%25%20OFF%2Fnow")
    assert test.obj("sub_9") == "https://dashboard.stripe.com/test/subscriptions/sub_9"
    assert test.obj("ANA20") is None
    assert scoped.account_settings() == "https://dashboard.stripe.com/acct_1X/settings/account"


def test_dashboard_from_facts() -> None:
    f = facts(key_mode="live")
    d = links.Dashboard.of(f)
    assert d.live and d.account == "acct_1FpcheckSandbox01"
    unknown = links.Dashboard.of(facts(account=Fetch.failed("Stripe answered 500")))
    assert unknown.account is None and not unknown.live
    restricted = links.Dashboard.of(facts(account=StripeAccount(id="acct_9", source="permission_error")))
    assert restricted.customer("cus_1") == "https://dashboard.stripe.com/acct_9/test/customers/cus_1"
