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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from checks.facts import StripeCharge, StripeCheckoutSession, StripeCustomer, StripeInvoice

Kind = Literal["invoice", "charge", "checkout_session"]
MatchedBy = Literal["uid", "fp_uid", "email", "coupon", "fp_tid"]
_NONE: frozenset[str] = frozenset()


def _ts(t: datetime | None) -> int | None:
    return int(t.timestamp()) if t is not None else None


def _dt(t: int | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


_WORDS: dict[str, str] = {}


def _s(v: str | None) -> str | None:
    """A status or a currency: a handful of values over a month's objects, one string each."""
    if not v or len(_WORDS) > 256:
        return v
    return _WORDS.setdefault(v, v)


class SlimInvoice:
    """What the join reads of a paid invoice, taken from the typed fact (the engine's parser) as each
    page arrives: a whole month of invoices is held until the join, the typed facts are many times larger."""

    __slots__ = ("id", "customer", "status", "currency", "amount_paid", "_created", "_paid_at", "customer_email",
                 "coupon_keys", "payment_intent_ids", "charge_ids")
    KIND: Kind = "invoice"

    def __init__(self, inv: StripeInvoice) -> None:
        self.id, self.customer, self.status = inv.id, inv.customer, _s(inv.status)
        self.currency, self.amount_paid = _s(inv.currency), inv.amount_paid
        self._created, self._paid_at = _ts(inv.created), _ts(inv.paid_at)
        self.customer_email = inv.customer_email
        keys = invoice_coupons(inv)
        self.coupon_keys = frozenset(keys) if keys else _NONE
        self.payment_intent_ids, self.charge_ids = tuple(inv.payment_intent_ids), tuple(inv.charge_ids)

    @property
    def created(self) -> datetime:
        return _dt(self._created)  # type: ignore[return-value]

    @property
    def paid_at(self) -> datetime | None:
        return _dt(self._paid_at)


class SlimCharge:
    """What the join reads of a charge (see SlimInvoice)."""

    __slots__ = ("id", "customer", "status", "paid", "currency", "amount_captured", "amount_refunded", "_created",
                 "billing_email", "receipt_email", "payment_intent")
    KIND: Kind = "charge"

    def __init__(self, ch: StripeCharge) -> None:
        self.id, self.customer, self.status, self.paid = ch.id, ch.customer, _s(ch.status), ch.paid
        self.currency, self.amount_captured, self.amount_refunded = _s(ch.currency), ch.amount_captured, ch.amount_refunded
        self._created = _ts(ch.created)
        self.billing_email, self.receipt_email = ch.billing_email, ch.receipt_email
        self.payment_intent = ch.payment_intent

    @property
    def created(self) -> datetime:
        return _dt(self._created)  # type: ignore[return-value]


class SlimCustomer:
    """What the join reads of an expanded customer: its email and FirstPromoter's metadata."""

    __slots__ = ("id", "email", "fp_uid", "fp_tid")

    def __init__(self, c: StripeCustomer) -> None:
        self.id, self.email, self.fp_uid, self.fp_tid = c.id, c.email, c.fp_uid, c.fp_tid

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlimCustomer) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


# A sale as the engine types it (checks/facts.py, parsed by checks/sources/stripe.py), or slimmed
# from it by the sweep's listings (SlimInvoice, SlimCharge): a Payment reads either alike
Sale = StripeInvoice | StripeCharge | StripeCheckoutSession | SlimInvoice | SlimCharge
Customer = StripeCustomer | SlimCustomer


def invoice_coupons(inv: StripeInvoice) -> set[str]:
    """An invoice's coupon ids and promotion codes' codes, casefolded."""
    out = {d.coupon.id.casefold() for d in inv.discounts if d.coupon is not None}
    return out | {d.promotion_code.code.casefold() for d in inv.discounts if d.promotion_code is not None}


def sale_kind(s: Sale) -> Kind:
    kind: Kind | None = getattr(s, "KIND", None)
    if kind is not None:
        return kind
    if isinstance(s, StripeInvoice):
        return "invoice"
    return "charge" if isinstance(s, StripeCharge) else "checkout_session"


@dataclass(slots=True)
class Payment:
    """One sale of the window: the paid invoice, the charge no invoice paid, or the completed
    Checkout Session whose payment was not read.  What the join needs is derived from the typed
    objects: the sale, the customer its listing expanded (email, metadata fp_uid / fp_tid), and the
    Checkout Sessions that completed it (their tid and email fill in what the sale lacks)."""

    sale: Sale
    customer: Customer | None = None
    sessions: tuple[StripeCheckoutSession, ...] = ()

    @property
    def id(self) -> str:
        return self.sale.id

    @property
    def kind(self) -> Kind:
        return sale_kind(self.sale)

    @property
    def amount(self) -> int:
        """Minor units actually paid."""
        s, kind = self.sale, self.kind
        if kind == "invoice":
            return s.amount_paid  # type: ignore[union-attr]
        if kind == "charge":
            return s.amount_captured - s.amount_refunded  # type: ignore[union-attr]
        return s.amount_total or 0  # type: ignore[union-attr]

    @property
    def currency(self) -> str:
        return self.sale.currency or "usd"

    @property
    def paid_at(self) -> datetime:
        # A Checkout Session has no field telling when it was completed; its charge tells, and a
        # read charge takes the session over (build_payments).  Without it, `created` is the best
        # time known: at most 24 h (the session's `expires_at`) before the completion.
        s = self.sale
        return (s.paid_at or s.created) if self.kind == "invoice" else s.created  # type: ignore[union-attr]

    @property
    def customer_id(self) -> str | None:
        return self.sale.customer or None

    @property
    def email(self) -> str | None:
        s, on_customer, kind = self.sale, self.customer.email if self.customer else None, self.kind
        if kind == "invoice":
            own = s.customer_email or on_customer  # type: ignore[union-attr]
        elif kind == "charge":
            own = on_customer or s.billing_email or s.receipt_email  # type: ignore[union-attr]  # the customer's wins
        else:
            own = s.customer_email  # type: ignore[union-attr]
        return own or next((cs.customer_email for cs in self.sessions if cs.customer_email), None)

    @property
    def fp_uid(self) -> str | None:
        return (self.customer.fp_uid if self.customer else None) or None

    @property
    def fp_tid(self) -> str | None:
        if self.kind == "checkout_session":
            own = session_tid(self.sale)  # type: ignore[arg-type]
        else:
            own = (self.customer.fp_tid if self.customer else None) or None
        return own or next((t for cs in self.sessions if (t := session_tid(cs))), None)

    @property
    def coupons(self) -> set[str]:
        """Coupon ids and promotion codes' codes, casefolded."""
        s = self.sale
        if isinstance(s, SlimInvoice):
            return set(s.coupon_keys)
        return invoice_coupons(s) if isinstance(s, StripeInvoice) else set()

    @property
    def event_ids(self) -> set[str]:
        """The Stripe ids FirstPromoter may file the sale under."""
        s, kind = self.sale, self.kind
        if kind == "invoice":
            return {s.id, *s.payment_intent_ids, *s.charge_ids}  # type: ignore[union-attr]
        if kind == "charge":
            return {s.id} | ({s.payment_intent} if s.payment_intent else set())  # type: ignore[union-attr]
        return {s.id} | _linked(s)  # type: ignore[arg-type]


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
    invoices: Iterable[StripeInvoice | SlimInvoice], charges: Iterable[StripeCharge | SlimCharge],
    sessions: Iterable[StripeCheckoutSession],
    customers: Mapping[str, Customer] | None = None, window: tuple[int, int] | None = None,
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

    def customer(sale: Sale) -> Customer | None:
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
            known.sessions = (*known.sessions, cs)
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


class Lookup(Protocol):
    """The referrals the join looks people up in (a list's rows, or the sweep's store.Referrals)."""

    def by_uid(self, uid: str | None) -> dict[str, Any] | None: ...

    def by_email(self, email: str | None) -> dict[str, Any] | None: ...


class _Rows:
    def __init__(self, referrals: Iterable[dict[str, Any]]) -> None:
        self.uids: dict[str, dict[str, Any]] = {}
        self.emails: dict[str, dict[str, Any]] = {}
        for r in referrals:
            if isinstance(r.get("uid"), str) and r["uid"].strip():
                self.uids.setdefault(r["uid"].strip(), r)
            if isinstance(r.get("email"), str) and r["email"].strip():
                self.emails.setdefault(r["email"].strip().casefold(), r)

    def by_uid(self, uid: str | None) -> dict[str, Any] | None:
        return self.uids.get(uid) if uid else None

    def by_email(self, email: str | None) -> dict[str, Any] | None:
        return self.emails.get(email.strip().casefold()) if email else None


def join(
    payments: list[Payment],
    referrals: Iterable[dict[str, Any]] | Lookup,
    commissions: Iterable[dict[str, Any]],
    promoter_campaigns: Iterable[dict[str, Any]],
) -> Joined:
    people: Lookup = referrals if hasattr(referrals, "by_uid") else _Rows(referrals)  # type: ignore[assignment,arg-type]
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
        if (found := people.by_uid(p.customer_id)) is not None:
            how.append("uid")
            ref = found
        if (found := people.by_uid(p.fp_uid)) is not None:
            how.append("fp_uid")
            ref = ref or found
        if p.email and p.email.strip() and (found := people.by_email(p.email)) is not None:
            how.append("email")
            ref = ref or found
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
