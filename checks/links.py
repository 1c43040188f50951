"""Stripe dashboard links for the evidence a check shows.

Live objects live under `https://dashboard.stripe.com/...`, test ones under `.../test/...`.  When
the account id is known we use the account-scoped form (`https://dashboard.stripe.com/acct_…/test/…`):
it opens the right account for people who belong to several, and for sandboxes, each of which
has its own `acct_…`.  `hosted_invoice_url` is customer-facing and expires, so never use it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from checks.facts import Facts

BASE = "https://dashboard.stripe.com"

# id prefix -> dashboard section
_SECTIONS = {
    "cus_": "customers",
    "in_": "invoices",
    "pi_": "payments",
    "ch_": "payments",
    "py_": "payments",
    "sub_": "subscriptions",
    "promo_": "promotion_codes",
}


def _root(live: bool, account: str | None) -> str:
    parts = [BASE]
    if account:
        parts.append(quote(account, safe=""))
    if not live:
        parts.append("test")
    return "/".join(parts)


def object_url(section: str, object_id: str, *, live: bool, account: str | None = None) -> str:
    """`object_url("coupons", "ANA20", live=False)` -> ".../test/coupons/ANA20"."""
    return f"{_root(live, account)}/{section}/{quote(object_id, safe='')}"


def section_for(object_id: str) -> str | None:
    """The dashboard section of a Stripe id by its prefix (None when it has none, e.g. a coupon)."""
    return next((s for p, s in _SECTIONS.items() if object_id.startswith(p)), None)


def account_settings_url(account: str | None) -> str:
    """Stripe's Settings → Account details page, where the Account ID is shown."""
    return f"{_root(True, account)}/settings/account"


@dataclass(frozen=True)
class Dashboard:
    """Links for one run: the account (when known) and the key's mode as the default."""

    account: str | None = None
    live: bool = False

    @classmethod
    def of(cls, facts: Facts) -> Dashboard:
        acct = facts.stripe.account.value.id if facts.stripe.account.ok and facts.stripe.account.value else None
        return cls(account=acct, live=facts.stripe.key_mode == "live")

    def _mode(self, live: bool | None) -> bool:
        return self.live if live is None else live

    def obj(self, object_id: str, live: bool | None = None) -> str | None:
        """A link for any id with a known prefix (cus_, in_, pi_, ch_, sub_, promo_)."""
        section = section_for(object_id)
        if section is None:
            return None
        return object_url(section, object_id, live=self._mode(live), account=self.account)

    def customer(self, customer_id: str, live: bool | None = None) -> str:
        return object_url("customers", customer_id, live=self._mode(live), account=self.account)

    def invoice(self, invoice_id: str, live: bool | None = None) -> str:
        return object_url("invoices", invoice_id, live=self._mode(live), account=self.account)

    def payment(self, payment_id: str, live: bool | None = None) -> str:
        """A PaymentIntent (pi_) or Charge (ch_): the dashboard's payments page takes both."""
        return object_url("payments", payment_id, live=self._mode(live), account=self.account)

    def subscription(self, subscription_id: str, live: bool | None = None) -> str:
        return object_url("subscriptions", subscription_id, live=self._mode(live), account=self.account)

    def coupon(self, coupon_id: str, live: bool | None = None) -> str:
        return object_url("coupons", coupon_id, live=self._mode(live), account=self.account)

    def promotion_code(self, promo_id: str, live: bool | None = None) -> str:
        return object_url("promotion_codes", promo_id, live=self._mode(live), account=self.account)

    def account_settings(self) -> str:
        return account_settings_url(self.account)
