"""The in-memory join: Stripe's payments of the window against FirstPromoter's referrals,
tracking coupons and commissions.  Pure functions of the rows the listings returned.

A payment is a *candidate* when its person is a referral (the referral's uid is the Stripe customer
id or the customer's `metadata.fp_uid`, or the referral's email is the payer's email, ignoring
case) or it carries a promoter's tracking coupon or a FirstPromoter tid (`session_tid`), and no
commission's `event_id` is one of the payment's Stripe ids (FirstPromoter files the invoice id, or
the charge id of a one-time payment).

A payment's time is when it was paid (an invoice's `status_transitions.paid_at`, a charge's
`created`), not when its invoice or Checkout Session was created: `build_payments` keeps the sales
paid inside the window out of listings that reach back before it (lists.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["invoice", "charge", "checkout_session"]
MatchedBy = Literal["uid", "fp_uid", "email", "coupon", "fp_tid"]


@dataclass
class Payment:
    id: str
    kind: Kind
    amount: int  # minor units actually paid
    currency: str
    paid_at: datetime
    customer_id: str | None = None
    email: str | None = None
    fp_uid: str | None = None
    fp_tid: str | None = None
    coupons: set[str] = field(default_factory=set)  # coupon ids and promotion codes' codes, casefolded
    event_ids: set[str] = field(default_factory=set)  # Stripe ids FirstPromoter may file the sale under


@dataclass
class Candidate:
    payment: Payment
    matched_by: tuple[MatchedBy, ...]
    referral: dict[str, Any] | None  # FirstPromoter's referral row, when the person is one


@dataclass
class Joined:
    payments: list[Payment]
    referral_payments: int  # payments whose person matched anything FirstPromoter knows
    credited: int  # ... of which a commission names the payment
    candidates: list[Candidate]


def _ts(v: Any) -> datetime | None:
    return datetime.fromtimestamp(int(v), UTC) if isinstance(v, int | float) else None


def _id(v: Any) -> str | None:
    if isinstance(v, dict):
        return v.get("id") if isinstance(v.get("id"), str) else None
    return v if isinstance(v, str) else None


def session_tid(raw: dict[str, Any]) -> str | None:
    """The FirstPromoter tid a Checkout Session carries, if any.

    `metadata.fp_tid` is where a shop's server puts the visitor's tid on the sessions it creates.
    `client_reference_id` is a tid only on a Payment Link's session (`payment_link` set): that is
    where FirstPromoter's script adds it (buy.stripe.com links).  On any other session it is the
    shop's own reference (an order number) and says nothing about tracking.  Pricing Tables get the
    tid as client_reference_id too, but their sessions name no pricing table, so they cannot be told
    from a shop's reference; such a sale is still found by its referral's uid or email."""
    meta = raw.get("metadata") or {}
    if isinstance(meta.get("fp_tid"), str) and meta["fp_tid"].strip():
        return meta["fp_tid"]
    ref = raw.get("client_reference_id")
    if raw.get("payment_link") and isinstance(ref, str) and ref.strip():
        return ref
    return None


def _customer_fields(p: Payment, customer: Any) -> None:
    p.customer_id = _id(customer)
    if isinstance(customer, dict):
        p.email = p.email or customer.get("email")
        meta = customer.get("metadata") or {}
        p.fp_uid = meta.get("fp_uid") or None
        p.fp_tid = meta.get("fp_tid") or None


def invoice_payment(raw: dict[str, Any]) -> Payment | None:
    paid = int(raw.get("amount_paid") or 0)
    if raw.get("status") != "paid" or paid <= 0:
        return None  # FirstPromoter ignores $0 invoices (trials, 100% coupons): nothing to credit
    at = _ts((raw.get("status_transitions") or {}).get("paid_at")) or _ts(raw.get("created"))
    assert at is not None
    p = Payment(raw["id"], "invoice", paid, str(raw.get("currency") or "usd"), at,
                email=raw.get("customer_email"), event_ids={raw["id"]})
    _customer_fields(p, raw.get("customer"))
    for d in raw.get("discounts") or []:
        if not isinstance(d, dict):
            continue
        coupon = (d.get("source") or {}).get("coupon")
        if (cid := _id(coupon)) is not None:
            p.coupons.add(cid.casefold())
        promo = d.get("promotion_code")
        if isinstance(promo, dict) and isinstance(promo.get("code"), str):
            p.coupons.add(promo["code"].casefold())
    for pay in ((raw.get("payments") or {}).get("data") or []):
        payment = pay.get("payment") or {}
        for key in ("payment_intent", "charge"):
            if (x := _id(payment.get(key))) is not None:
                p.event_ids.add(x)
    return p


def charge_payment(raw: dict[str, Any]) -> Payment | None:
    amount = int(raw.get("amount_captured") or 0) - int(raw.get("amount_refunded") or 0)
    if raw.get("status") != "succeeded" or not raw.get("paid") or amount <= 0:
        return None
    at = _ts(raw.get("created"))
    assert at is not None
    p = Payment(raw["id"], "charge", amount, str(raw.get("currency") or "usd"), at,
                email=(raw.get("billing_details") or {}).get("email") or raw.get("receipt_email"),
                event_ids={raw["id"]} | ({pi} if (pi := _id(raw.get("payment_intent"))) else set()))
    customer = raw.get("customer")
    _customer_fields(p, customer)
    if isinstance(customer, dict) and customer.get("email"):
        p.email = customer["email"]
    return p


def build_payments(
    invoices: Iterable[dict[str, Any]], charges: Iterable[dict[str, Any]], sessions: Iterable[dict[str, Any]],
    window: tuple[int, int] | None = None,
) -> list[Payment]:
    """One Payment per sale: paid invoices, succeeded charges no invoice paid, and completed
    Checkout Sessions whose payment is neither (their tid and email enrich the others).

    With `window` ([start, end] in epoch seconds), only sales paid inside it count.  A sale read
    but paid outside it (an invoice of the look-back, a refunded charge) is remembered, so that
    its charge or its Checkout Session is not taken for another sale."""
    def inside(p: Payment) -> bool:
        return window is None or window[0] <= int(p.paid_at.timestamp()) <= window[1]

    out: list[Payment] = []
    by_stripe_id: dict[str, Payment] = {}
    elsewhere: set[str] = set()  # ids of invoices read that are not this window's payments
    not_sales: set[str] = set()  # PaymentIntents of charges read that are not (failed, refunded, $0)
    for raw in invoices:
        p = invoice_payment(raw)
        if p is not None and inside(p):
            out.append(p)
            for x in p.event_ids:
                by_stripe_id[x] = p
        else:
            elsewhere |= p.event_ids if p is not None else {raw["id"]}
    for raw in charges:
        pi = _id(raw.get("payment_intent"))
        if any(x in by_stripe_id or x in elsewhere for x in (raw["id"], pi) if x):
            continue  # an invoice's charge: that invoice is the sale
        p = charge_payment(raw)
        if p is not None and inside(p):
            out.append(p)
            for x in p.event_ids:
                by_stripe_id[x] = p
        elif pi:
            not_sales.add(pi)  # a failed try may precede the charge that succeeds: only sessions skip it
    for raw in sessions:
        if raw.get("status") != "complete":
            continue
        tid = session_tid(raw)
        email = (raw.get("customer_details") or {}).get("email")
        linked = {x for x in (_id(raw.get("invoice")), _id(raw.get("payment_intent"))) if x}
        known = next((by_stripe_id[x] for x in linked if x in by_stripe_id), None)
        if known is not None:
            known.fp_tid = known.fp_tid or tid
            known.email = known.email or email
            continue
        if linked & (elsewhere | not_sales):
            continue  # its sale was read: paid outside the window, refunded, or not a payment
        total = int(raw.get("amount_total") or 0)
        if raw.get("payment_status") != "paid" or total <= 0:
            continue
        # Here the session's charge was not read.  A Checkout Session has no field telling when it
        # was completed (nor, for a delayed payment method, when the payment succeeded); the charge
        # tells, and a read charge takes the session over above.  Without it, `created` is the best
        # time known: at most 24 h (the session's `expires_at`) before the completion.
        at = _ts(raw.get("created"))
        assert at is not None
        p = Payment(raw["id"], "checkout_session", total, str(raw.get("currency") or "usd"), at,
                    customer_id=_id(raw.get("customer")), email=email, fp_tid=tid,
                    event_ids={raw["id"]} | linked)
        if inside(p):
            out.append(p)
    return out


def join(
    payments: list[Payment],
    referrals: Iterable[dict[str, Any]],
    commissions: Iterable[dict[str, Any]],
    promoter_campaigns: Iterable[dict[str, Any]],
) -> Joined:
    by_uid: dict[str, dict[str, Any]] = {}
    by_email: dict[str, dict[str, Any]] = {}
    for r in referrals:
        if isinstance(r.get("uid"), str) and r["uid"].strip():
            by_uid.setdefault(r["uid"].strip(), r)
        if isinstance(r.get("email"), str) and r["email"].strip():
            by_email.setdefault(r["email"].strip().casefold(), r)
    credited_ids = {c["event_id"] for c in commissions if isinstance(c.get("event_id"), str)}
    tracking = {
        v.strip().casefold()
        for pc in promoter_campaigns
        for v in (pc.get("coupon"), pc.get("display_coupon"))
        if isinstance(v, str) and v.strip()
    }
    referral_payments = credited = 0
    candidates: list[Candidate] = []
    for p in payments:
        how: list[MatchedBy] = []
        ref = None
        if p.customer_id and p.customer_id in by_uid:
            how.append("uid")
            ref = by_uid[p.customer_id]
        if p.fp_uid and p.fp_uid in by_uid:
            how.append("fp_uid")
            ref = ref or by_uid[p.fp_uid]
        if p.email and p.email.strip().casefold() in by_email:
            how.append("email")
            ref = ref or by_email[p.email.strip().casefold()]
        if p.coupons & tracking:
            how.append("coupon")
        if p.fp_tid:
            how.append("fp_tid")
        if not how:
            continue
        referral_payments += 1
        if p.event_ids & credited_ids:
            credited += 1
            continue
        candidates.append(Candidate(p, tuple(how), ref))
    return Joined(payments, referral_payments, credited, candidates)
