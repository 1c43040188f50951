"""The checks, in the guide's causal order: the one table every other part reads.

Each row names a check's id (a contract), its title, the guide module and function that judge it,
the facts it needs (a fact that could not be read makes it `error`, one not read `skip`, without
calling it) and what the sweep tells to do about payments lost to it.  As pip's command table does,
the registry imports the modules it names; this module imports nothing, so `fpcheck --help`,
`fpcheck checks` and `--only` validation stay fast (no pydantic, no facts model).

Adding a check: write its function in a module of checks/guide/ and add its row here.
"""

from __future__ import annotations

from typing import NamedTuple


class CheckName(NamedTuple):
    id: str
    title: str
    module: str  # the guide module that holds its function
    function: str
    needs: tuple[str, ...]  # facts by dotted name ("stripe.invoices")
    hint: str  # the sweep's advice for payments lost to this cause


_MONEY = ("stripe.customers", "stripe.invoices", "stripe.charges")

CHECKS: tuple[CheckName, ...] = (
    CheckName("stripe.account", "Connected Stripe account", "checks.guide.account", "check_account",
              ("stripe.account",),
              "FirstPromoter is connected to another Stripe account: reconnect it to this one."),
    CheckName("stripe.mode", "Live / test mode", "checks.guide.mode", "check_mode", ("stripe.customers",),
              "Live and test disagree: connect FirstPromoter in the mode the payments are in."),
    CheckName("fp.referral", "FirstPromoter referral", "checks.guide.referral", "check_referral", ("fp.referral",),
              "No referral (or one that cannot earn): check tracking (cookie, fp_tid) and pending approvals."),
    CheckName("lead.email", "Customer email in Stripe", "checks.guide.lead", "check_email", ("stripe.customers",),
              "The referral's email is not on the paying Stripe customer: align the emails or set the uid."),
    CheckName("lead.uid", "Referral uid vs Stripe customer", "checks.guide.lead", "check_uid",
              ("fp.referral", "stripe.customers"),
              "The referral's uid is not the Stripe customer id: set uid = cus_… (or metadata.fp_uid), then Import "
              "Stripe Events."),
    CheckName("payment.exists", "A real payment", "checks.guide.payment", "check_exists", _MONEY,
              "No real payment yet (trial, open invoice)."),
    CheckName("payment.amount", "Amount paid (over $0.50)", "checks.guide.payment", "check_amount", _MONEY,
              "The amount paid is under FirstPromoter's minimum or zero."),
    CheckName("payment.timing", "Time since payment (~2 min)", "checks.guide.payment", "check_timing", _MONEY,
              "Paid before the referral was created: in FirstPromoter set the referral's uid to the Stripe customer "
              "id (cus_…), then use Import Stripe Events (a guest payment has no customer: add its commission by "
              "hand)."),
    CheckName("coupon.id", "Tracking coupon is a Coupon id", "checks.guide.coupon", "check_id",
              ("fp.referral", "fp.promoter_campaigns", "stripe.invoices"),  # tracking coupon errors: in the check
              "The tracking coupon is a promotion code: put the Coupon id in the promoter's Coupon Code field."),
    CheckName("coupon.unique", "Tracking coupon is unique", "checks.guide.coupon", "check_unique",
              ("fp.referral", "fp.promoter_campaigns"),
              "The tracking coupon is on several promoters' campaigns: give each promoter its own."),
    CheckName("fp.commission", "Commission in FirstPromoter", "checks.guide.commission", "check_commission",
              ("fp.commissions", "stripe.invoices", "stripe.charges"),
              "Everything matches but no commission: ask FirstPromoter support, or import the sale."),
)
