"""The in-memory join: Stripe's payments of the window against FirstPromoter's referrals,
tracking coupons and commissions.  Pure functions of what the listings returned: Stripe's objects
as the engine types them (checks/facts.py), FirstPromoter's rows.

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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from checks.facts import StripeCharge, StripeCheckoutSession, StripeCustomer, StripeInvoice

Kind = Literal["invoice", "charge", "checkout_session"]
MatchedBy = Literal["uid", "fp_uid", "email", "coupon", "fp_tid"]
# A sale as the engine types it (checks/facts.py, parsed by checks/sources/stripe.py)
Sale = StripeInvoice | StripeCharge | StripeCheckoutSession


@dataclass
class Payment:
    """One sale of the window: the paid invoice, the charge no invoice paid, or the completed
    Checkout Session whose payment was not read.  What the join needs is derived from the typed
    objects: the sale, the customer its listing expanded (email, metadata fp_uid / fp_tid), and the
    Checkout Sessions that completed it (their tid and email fill in what the sale lacks)."""

    sale: Sale
    customer: StripeCustomer | None = None
    sessions: list[StripeCheckoutSession] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.sale.id

    @property
    def kind(self) -> Kind:
        if isinstance(self.sale, StripeInvoice):
            return "invoice"
        return "charge" if isinstance(self.sale, StripeCharge) else "checkout_session"

    @property
    def amount(self) -> int:
        """Minor units actually paid."""
        s = self.sale
        if isinstance(s, StripeInvoice):
            return s.amount_paid
        if isinstance(s, StripeCharge):
            return s.amount_captured - s.amount_refunded
        return s.amount_total or 0

    @property
    def currency(self) -> str:
        return self.sale.currency or "usd"

    @property
    def paid_at(self) -> datetime:
        # A Checkout Session has no field telling when it was completed; its charge tells, and a
        # read charge takes the session over (build_payments).  Without it, `created` is the best
        # time known: at most 24 h (the session's `expires_at`) before the completion.
        s = self.sale
        return (s.paid_at or s.created) if isinstance(s, StripeInvoice) else s.created

    @property
    def customer_id(self) -> str | None:
        return self.sale.customer or None

    @property
    def email(self) -> str | None:
        s, on_customer = self.sale, self.customer.email if self.customer else None
        if isinstance(s, StripeInvoice):
            own = s.customer_email or on_customer
        elif isinstance(s, StripeCharge):
            own = on_customer or s.billing_email or s.receipt_email  # the customer's email wins
        else:
            own = s.customer_email
        return own or next((cs.customer_email for cs in self.sessions if cs.customer_email), None)

    @property
    def fp_uid(self) -> str | None:
        return (self.customer.fp_uid if self.customer else None) or None

    @property
    def fp_tid(self) -> str | None:
        if isinstance(self.sale, StripeCheckoutSession):
            own = session_tid(self.sale)
        else:
            own = (self.customer.fp_tid if self.customer else None) or None
        return own or next((t for cs in self.sessions if (t := session_tid(cs))), None)

    @property
    def coupons(self) -> set[str]:
        """Coupon ids and promotion codes' codes, casefolded."""
        if not isinstance(self.sale, StripeInvoice):
            return set()
        out = {d.coupon.id.casefold() for d in self.sale.discounts if d.coupon is not None}
        return out | {d.promotion_code.code.casefold() for d in self.sale.discounts if d.promotion_code is not None}

    @property
    def event_ids(self) -> set[str]:
        """The Stripe ids FirstPromoter may file the sale under."""
        s = self.sale
        if isinstance(s, StripeInvoice):
            return {s.id, *s.payment_intent_ids, *s.charge_ids}
        if isinstance(s, StripeCharge):
            return {s.id} | ({s.payment_intent} if s.payment_intent else set())
        return {s.id} | _linked(s)


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


def session_tid(cs: StripeCheckoutSession) -> str | None:
    """The FirstPromoter tid a Checkout Session carries, if any.

    `metadata.fp_tid` is where a shop's server puts the visitor's tid on the sessions it creates.
    `client_reference_id` is a tid only on a Payment Link's session (`payment_link` set): that is
    where FirstPromoter's script adds it (buy.stripe.com links).  On any other session it is the
    shop's own reference (an order number) and says nothing about tracking.  Pricing Tables get the
    tid as client_reference_id too, but their sessions name no pricing table, so they cannot be told
    from a shop's reference; such a sale is still found by its referral's uid or email."""
    tid = cs.fp_tid
    if tid and tid.strip():
        return tid
    ref = cs.client_reference_id
    if cs.payment_link and ref and ref.strip():
        return ref
    return None


def _linked(cs: StripeCheckoutSession) -> set[str]:
    return {x for x in (cs.invoice, cs.payment_intent) if x}


def build_payments(
    invoices: Iterable[StripeInvoice], charges: Iterable[StripeCharge], sessions: Iterable[StripeCheckoutSession],
    customers: Mapping[str, StripeCustomer] | None = None, window: tuple[int, int] | None = None,
) -> list[Payment]:
    """One Payment per sale: paid invoices, succeeded charges no invoice paid, and completed
    Checkout Sessions whose payment is neither (their tid and email enrich the others).
    `customers`: the customers the invoice and charge listings expanded, by id.

    With `window` ([start, end] in epoch seconds), only sales paid inside it count.  A sale read
    but paid outside it (an invoice of the look-back, a refunded charge) is remembered, so that
    its charge or its Checkout Session is not taken for another sale."""
    customers = customers or {}

    def inside(p: Payment) -> bool:
        return window is None or window[0] <= int(p.paid_at.timestamp()) <= window[1]

    def customer(sale: StripeInvoice | StripeCharge) -> StripeCustomer | None:
        return customers.get(sale.customer) if sale.customer else None

    out: list[Payment] = []
    by_stripe_id: dict[str, Payment] = {}
    elsewhere: set[str] = set()  # ids of invoices read that are not this window's payments
    not_sales: set[str] = set()  # PaymentIntents of charges read that are not (failed, refunded, $0)
    for inv in invoices:
        # FirstPromoter ignores $0 invoices (trials, 100% coupons): nothing to credit
        p = Payment(inv, customer(inv)) if inv.status == "paid" and inv.amount_paid > 0 else None
        if p is not None and inside(p):
            out.append(p)
            for x in p.event_ids:
                by_stripe_id[x] = p
        else:
            elsewhere |= p.event_ids if p is not None else {inv.id}
    for ch in charges:
        pi = ch.payment_intent
        if any(x in by_stripe_id or x in elsewhere for x in (ch.id, pi) if x):
            continue  # an invoice's charge: that invoice is the sale
        p = Payment(ch, customer(ch))
        if ch.status == "succeeded" and ch.paid and p.amount > 0 and inside(p):
            out.append(p)
            for x in p.event_ids:
                by_stripe_id[x] = p
        elif pi:
            not_sales.add(pi)  # a failed try may precede the charge that succeeds: only sessions skip it
    for cs in sessions:
        if cs.status != "complete":
            continue
        linked = _linked(cs)
        known = next((by_stripe_id[x] for x in linked if x in by_stripe_id), None)
        if known is not None:
            known.sessions.append(cs)
            continue
        if linked & (elsewhere | not_sales):
            continue  # its sale was read: paid outside the window, refunded, or not a payment
        p = Payment(cs)  # its charge was not read: the session is the sale
        if cs.payment_status == "paid" and p.amount > 0 and inside(p):
            out.append(p)
    return out


def slim_referral(row: dict[str, Any]) -> dict[str, Any] | None:
    """What the join and the sweep's result use of a referral row: a whole programme's referrals
    are held at once, and the full rows (campaign, promoter, dates, ...) are many times larger."""
    if not isinstance(row, dict):
        return None
    person = ((row.get("promoter_campaign") or {}).get("promoter") or {})
    return {
        "id": row.get("id"), "uid": row.get("uid"), "email": row.get("email"), "state": row.get("state"),
        "promoter_campaign": {"promoter": {"name": person.get("name"), "email": person.get("email")}},
    }


def commission_event(row: dict[str, Any]) -> dict[str, Any] | None:
    """A commission as the join needs it: the Stripe id it was filed under, if any."""
    eid = row.get("event_id") if isinstance(row, dict) else None
    return {"event_id": eid} if isinstance(eid, str) else None


def campaign_coupons(row: dict[str, Any]) -> dict[str, Any] | None:
    """A promoter campaign as the join needs it: its tracking coupons, if it has one."""
    if not isinstance(row, dict):
        return None
    kept = {k: row.get(k) for k in ("coupon", "display_coupon") if isinstance(row.get(k), str) and row[k].strip()}
    return kept or None


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
