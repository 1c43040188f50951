"""The checks by id and title, in the guide's order, without importing the engine.

`fpcheck checks`, `fpcheck --help` and `--only` validation need only these names; importing the check
modules pulls in pydantic and the facts model (about 130 ms), so the names are listed here as well.
A test keeps this list equal to what the checks register (`checks.registry.all_checks()`).
"""

from __future__ import annotations

from typing import NamedTuple


class CheckName(NamedTuple):
    id: str
    title: str


CHECKS: tuple[CheckName, ...] = (
    CheckName("stripe.account", "Connected Stripe account"),
    CheckName("stripe.mode", "Live / test mode"),
    CheckName("fp.referral", "FirstPromoter referral"),
    CheckName("lead.email", "Customer email in Stripe"),
    CheckName("lead.uid", "Referral uid vs Stripe customer"),
    CheckName("payment.exists", "A real payment"),
    CheckName("payment.amount", "Amount paid (over $0.50)"),
    CheckName("payment.timing", "Time since payment (~2 min)"),
    CheckName("coupon.id", "Tracking coupon is a Coupon id"),
    CheckName("coupon.unique", "Tracking coupon is unique"),
    CheckName("fp.commission", "Commission in FirstPromoter"),
)
