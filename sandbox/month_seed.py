"""A month of payments for the sweep: the demo (`fpcheck demo sweep`), tests and bench/sweep.py.

Healthy referrals whose sales were credited, people FirstPromoter never heard of, leads with no
payment yet, and `lost` payments whose commission went missing for known causes (cycled through
LOST_CAUSES).  `seed_month` returns the truth: which payment ids are lost, and why.  `seed_edges`
adds the shapes a payment's time and a Checkout Session's tid decide (EdgeTruth).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sandbox.fp_seed import MAIN_CAMPAIGN_ID, PARTNER_CAMPAIGN_ID, PROMOTERS
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.scenarios import PC_ANA, PC_BEN, PC_CLEO, PROMOTER_CAMPAIGN_COUPONS
from sandbox.stripe_seed import PROMO_PARTNER20, _coupons
from sandbox.stripe_server import DAY, StripeStandIn

HOUR = 3600
# (kind, the check the diagnosis should name, how it looks)
LOST_CAUSES: tuple[tuple[str, str, str], ...] = (
    ("uid", "lead.uid", "the referral's uid is the app's user id, not the Stripe customer id"),
    ("promo", "coupon.id", "the promoter's tracking coupon is the promotion code PARTNER20"),
    ("pending", "fp.referral", "the referral is waiting for approval"),
    ("missing", "fp.commission", "everything matches, yet no commission"),
    ("shared", "coupon.unique", "the tracking coupon SHARED10 is on two promoters' campaigns"),
    ("tid", "fp.referral", "Checkout carried an fp_tid, but FirstPromoter has no referral"),
)


@dataclass
class MonthTruth:
    lost: dict[str, str] = field(default_factory=dict)  # payment id -> the cause's check id
    invoices: int = 0
    referrals: int = 0
    commissions: int = 0
    start: float = 0.0  # the month's first payment (epoch seconds)
    end: float = 0.0


def seed_month(
    stripe: StripeStandIn, fp: FirstPromoterStandIn, *, invoices: int = 400, referrals: int = 150,
    commissions: int = 80, lost: int = 12, now: float | None = None, days: int = 30,
) -> MonthTruth:
    if commissions + lost > min(invoices, referrals):
        raise ValueError("need commissions + lost <= invoices and <= referrals")
    t = int(now if now is not None else time.time())
    _coupons(stripe, t, "test")
    fp.add_campaign("Main Campaign", id=MAIN_CAMPAIGN_ID)
    fp.add_campaign("Partner Program", id=PARTNER_CAMPAIGN_ID)
    for pid, email, name, pcid, display in PROMOTERS:
        fp.add_promoter(email, name, id=pid, joined_at=t - 200 * DAY)
        fp.add_promoter_campaign(pid, id=pcid, campaign_id=MAIN_CAMPAIGN_ID, coupon=PROMOTER_CAMPAIGN_COUPONS[pcid],
                                 display_coupon=display, ref_token=name.split()[0].lower(), created_at=t - 180 * DAY)
    truth = MonthTruth(invoices=invoices, referrals=referrals, commissions=commissions)
    first, last = t - days * DAY + HOUR, t - HOUR
    step = (last - first) / max(invoices - 1, 1)
    truth.start, truth.end = first, last
    ref_id = 100_000
    com_id = 500_000

    def pay(n: int, cus: str, email: str, *, discount: tuple[str, str | None, int] | None = None,
            metadata: dict[str, str] | None = None) -> str:
        paid_at = int(first + n * step)
        stripe.add_customer(cus, email, created=paid_at - 600, metadata=metadata)
        sfx = cus.removeprefix("cus_")
        stripe.add_subscription(f"sub_{sfx}", cus, created=paid_at - 20, amount=2900)
        stripe.add_invoice(f"in_{sfx}", cus, created=paid_at - 20, paid_at=paid_at, subtotal=2900,
                           subscription=f"sub_{sfx}", discounts=(discount,) if discount else ())
        return f"in_{sfx}"

    # payments are spread over the month; which kind each one is cycles, so every kind spans it
    kinds = ["credited"] * commissions + ["lost"] * lost + ["stranger"] * (invoices - commissions - lost)
    order = sorted(range(invoices), key=lambda i: (i * 7919) % invoices)  # a fixed shuffle
    lost_n = 0
    for n, idx in enumerate(order):
        kind = kinds[idx]
        cus = f"cus_Month{n:07d}"
        if kind == "stranger":
            pay(n, cus, f"buyer{n}@shoppers.example")
            continue
        ref_id += 1
        if kind == "credited":
            email = f"member{n}@example.com"
            coupon = ("ANA20", None, 580) if n % 5 == 0 else None
            inv = pay(n, cus, email, discount=coupon)
            fp.add_referral(email, id=ref_id, uid=cus, state="active", promoter_campaign_id=PC_ANA,
                            created_at=t - 40 * DAY, customer_since=t - 35 * DAY)
            com_id += 1
            fp.add_commission(inv, referral_id=ref_id, id=com_id, created_at=first + n * step + 90)
            continue
        cause, check, _ = LOST_CAUSES[lost_n % len(LOST_CAUSES)]
        lost_n += 1
        email = f"lost.{cause}{n}@example.com"
        if cause == "uid":
            inv = pay(n, cus, email)
            fp.add_referral(email, id=ref_id, uid=f"user_{n}", promoter_campaign_id=PC_ANA, created_at=t - 40 * DAY)
        elif cause == "promo":
            inv = pay(n, cus, email, discount=("Z4OV52SU", PROMO_PARTNER20, 580))
            fp.add_referral(email, id=ref_id, promoter_campaign_id=PC_BEN, entry_source="coupon",
                            created_at=t - 40 * DAY)
        elif cause == "pending":
            inv = pay(n, cus, email)
            fp.add_referral(email, id=ref_id, uid=cus, state="pending", promoter_campaign_id=PC_ANA,
                            created_at=t - 40 * DAY)
        elif cause == "missing":
            inv = pay(n, cus, email)
            fp.add_referral(email, id=ref_id, uid=cus, promoter_campaign_id=PC_ANA, created_at=t - 40 * DAY)
        elif cause == "shared":
            inv = pay(n, cus, email, discount=("SHARED10", None, 290))
            fp.add_referral(email, id=ref_id, promoter_campaign_id=PC_CLEO, entry_source="coupon",
                            created_at=t - 40 * DAY)
        else:  # tid: no referral at all, but the customer carries the visitor's fp_tid
            inv = pay(n, cus, email, metadata={"fp_tid": f"tid-{n}"})
            ref_id -= 1
        truth.lost[inv] = check
    # leads who signed up and never paid
    i = 0
    while len(fp.referrals) < referrals:
        ref_id += 1
        i += 1
        fp.add_referral(f"lead{i}@example.com", id=ref_id, promoter_campaign_id=PC_ANA, created_at=t - 20 * DAY)
    return truth


# ---------------------------------------------------------------------- payment times and tids

WEEK = 7 * DAY


@dataclass
class EdgeTruth:
    """Payment ids of the shapes the payment-time and tid rules decide, for a sweep of the last 7 days."""

    late_invoice: str = ""  # created 10 days ago, paid 2 days ago with promotion code PARTNER20: coupon.id
    before_referral: str = ""  # paid 5 days ago, its referral added by hand 2 days ago: payment.timing
    api_tid: str = ""  # guest Checkout Session created 7 d 3 h ago carrying metadata.fp_tid, paid 4 h later
    order_reference: str = ""  # guest Checkout, client_reference_id "order-1234", no Payment Link: no tid
    link_tid: str = ""  # guest Checkout of a Payment Link: its client_reference_id is FirstPromoter's tid
    too_early: list[str] = field(default_factory=list)  # paid 30 s ago by a referral, no commission yet


def _subscribed_invoice(stripe: StripeStandIn, sfx: str, email: str, *, created: int, paid_at: int,
                        discount: tuple[str, str | None, int] | None = None) -> str:
    stripe.add_customer(f"cus_{sfx}", email, created=created - 600)
    stripe.add_subscription(f"sub_{sfx}", f"cus_{sfx}", created=created, amount=2900)
    stripe.add_invoice(f"in_{sfx}", f"cus_{sfx}", created=created, paid_at=paid_at, subtotal=2900,
                       subscription=f"sub_{sfx}", discounts=(discount,) if discount else ())
    return f"in_{sfx}"


def _guest_checkout(stripe: StripeStandIn, sfx: str, email: str, *, created: int, paid_at: int,
                    client_reference_id: str | None = None, metadata: dict[str, str] | None = None,
                    payment_link: str | None = None) -> str:
    """A guest Checkout in payment mode (no Stripe customer); the sale is its charge (`ch_…`)."""
    stripe.add_payment_intent(f"pi_{sfx}", None, 4900, created=paid_at, latest_charge=f"ch_{sfx}")
    stripe.add_charge(f"ch_{sfx}", None, 4900, created=paid_at, payment_intent=f"pi_{sfx}", billing_email=email)
    stripe.add_checkout_session(f"cs_{sfx}", created=created, amount_total=4900, email=email,
                                payment_intent=f"pi_{sfx}", client_reference_id=client_reference_id,
                                metadata=metadata, payment_link=payment_link)
    return f"ch_{sfx}"


def seed_too_early(stripe: StripeStandIn, fp: FirstPromoterStandIn, sfx: str, *, now: float | None = None) -> str:
    """A referral's invoice paid 30 s before `now`, no commission yet (FirstPromoter needs ~2 minutes)."""
    t = int(now if now is not None else time.time())
    email = f"{sfx.lower()}@example.com"
    inv = _subscribed_invoice(stripe, sfx, email, created=t - 30, paid_at=t - 30)
    fp.add_referral(email, uid=f"cus_{sfx}", promoter_campaign_id=PC_ANA, created_at=t - 10 * DAY)
    return inv


def seed_edges(stripe: StripeStandIn, fp: FirstPromoterStandIn, *, now: float | None = None) -> EdgeTruth:
    """The shapes on top of `seed_month` (its promoters and coupons must be there)."""
    t = int(now if now is not None else time.time())
    truth = EdgeTruth()
    truth.late_invoice = _subscribed_invoice(stripe, "EdgeLate", "late.payer@example.com", created=t - 10 * DAY,
                                             paid_at=t - 2 * DAY, discount=("Z4OV52SU", PROMO_PARTNER20, 580))
    fp.add_referral("late.payer@example.com", promoter_campaign_id=PC_BEN, entry_source="coupon",
                    created_at=t - 40 * DAY)
    truth.before_referral = _subscribed_invoice(stripe, "EdgeBefore", "paid.first@example.com",
                                                created=t - 5 * DAY, paid_at=t - 5 * DAY)
    fp.add_referral("paid.first@example.com", promoter_campaign_id=PC_ANA, entry_source="manual_admin",
                    created_at=t - 2 * DAY)
    # a shop's own order number beside the tid: metadata.fp_tid is the tid
    truth.api_tid = _guest_checkout(stripe, "EdgeApiTid", "api.buyer@shoppers.example", created=t - WEEK - 3 * HOUR,
                                    paid_at=t - WEEK + HOUR, client_reference_id="order-77",
                                    metadata={"fp_tid": "tid-api-1"})
    truth.order_reference = _guest_checkout(stripe, "EdgeOrder", "order.buyer@shoppers.example",
                                            created=t - DAY - 60, paid_at=t - DAY, client_reference_id="order-1234")
    truth.link_tid = _guest_checkout(stripe, "EdgeLink", "link.buyer@shoppers.example", created=t - DAY - 60,
                                     paid_at=t - DAY, client_reference_id="tid-link-1", payment_link="plink_EdgeLink")
    truth.too_early.append(seed_too_early(stripe, fp, "EdgeEarly", now=t))
    return truth
