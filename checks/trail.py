"""The person's trail: what several checks derive from the same snapshot, in one place.

Who the person is (their Stripe customers, the referral), what they paid (invoices, one-time charges
and guest Checkout payments, with times and amounts), how that lines up with the referral's
creation, which FirstPromoter commission belongs to which payment, and what the payments carried
that FirstPromoter's Stripe integration tracks by (a promoter's coupon, `fp_tid`,
`client_reference_id`).  Checks import these; checks never derive them for each other.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from checks import money, states
from checks.campaigns import coupon_owners
from checks.facts import (
    Commission,
    Facts,
    Fetch,
    PromoterCampaign,
    Referral,
    Settlement,
    StripeCharge,
    StripeCheckoutSession,
    StripeCustomer,
    StripeInvoice,
)
from checks.memo import derived

T = TypeVar("T")

TRACKING_DELAY = timedelta(minutes=2)  # "in about 2 minutes after the sale"
# A commission without a usable event id is taken for a payment when the referral's commission was
# created this soon after it, for the same sale amount.
COMMISSION_WINDOW = timedelta(days=3)


# ---------------------------------------------------------------- time, for people


def fmt_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC")


def fmt_age(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    if s < 0:
        return "in the future (clock difference)"
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 2 * 86400:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def ok_items(fetched: Fetch[tuple[T, ...]]) -> tuple[T, ...]:
    """A list fact's items, or none when it was not read (the check's `needs` handle errors)."""
    return tuple(fetched.value or ()) if fetched.ok else ()


def read_limits(facts: Facts, *names: str) -> list[str]:
    """What bounded the reads of these facts ("stripe.invoices", ...), each said once."""
    out: list[str] = []
    for name in names:
        for text in facts.fetch(name).limits:
            if text not in out:
                out.append(text)
    return out


# ---------------------------------------------------------------- the referral


def found_referral(facts: Facts) -> Referral | None:
    """The referral, when the lookup worked and found one."""
    fetched = facts.fp.referral
    return fetched.value.referral if fetched.ok and fetched.value else None


def no_referral(facts: Facts) -> bool:
    """True only when FirstPromoter was asked and has no referral (not when the lookup failed)."""
    fetched = facts.fp.referral
    return fetched.ok and fetched.value is not None and fetched.value.referral is None


def blocking_state(ref: Referral | None) -> states.State | None:
    """The referral's state when FirstPromoter credits no sales in it (states.py), else None."""
    if ref is None:
        return None
    row = states.judge("referral", "state", (ref.state or "").lower(), "fp.referral")
    return row if row.effect is states.Effect.BLOCKS else None


def target_email(facts: Facts) -> str | None:
    """The email FirstPromoter knows the person by: the referral's, else the one asked about."""
    ref = found_referral(facts)
    return (ref.email if ref and ref.email else None) or facts.query.email


# ---------------------------------------------------------------- Stripe customers


def customers(facts: Facts) -> tuple[StripeCustomer, ...]:
    return ok_items(facts.stripe.customers)


def customers_with_email(facts: Facts, email: str) -> list[StripeCustomer]:
    """Stripe customers whose email equals `email` ignoring case, exact spellings first."""
    found = [c for c in customers(facts) if c.email and c.email.casefold() == email.casefold()]
    return sorted(found, key=lambda c: c.email != email)


def uid_customers(facts: Facts, ref: Referral | None) -> list[StripeCustomer]:
    """The customers FirstPromoter follows through the referral's uid (the cus_ id, or metadata.fp_uid)."""
    if ref is None or not ref.uid:
        return []
    return [c for c in customers(facts) if ref.uid in (c.id, c.fp_uid) and not c.deleted]


def only_customer_id(facts: Facts) -> str | None:
    """The Stripe customer id when exactly one customer was found (for concrete advice)."""
    found = customers(facts)
    return found[0].id if len(found) == 1 else None


def lead_doubts(facts: Facts, payer: str | None = None) -> list[str]:
    """Why FirstPromoter may not match a payment by `payer` to this lead by email: several customers
    share it, or Stripe spells it in another letter case.  Empty when the referral's uid links the
    paying customer, which settles the match."""
    email = target_email(facts)
    ref = found_referral(facts)
    if not email or not facts.stripe.customers.ok or ref is None:
        return []
    if payer is not None and payer in {c.id for c in uid_customers(facts, ref)}:
        return []
    found = customers_with_email(facts, email)
    doubts = []
    if len(found) > 1:
        doubts.append(f"{len(found)} Stripe customers share {email}")
    variants = [c for c in found if c.email != email]
    if variants:
        doubts.append(f"the Stripe email is spelled {variants[0].email}, the referral's {email}")
    return doubts


# ---------------------------------------------------------------- payments


@dataclass(frozen=True)
class Payment:
    """Money that changed hands: a paid invoice, a succeeded one-time charge (not one that paid an
    invoice), or a guest Checkout payment (no Stripe customer)."""

    kind: Literal["invoice", "charge", "checkout"]
    id: str
    customer: str | None
    currency: str
    when: datetime  # invoice: status_transitions.paid_at (else created); charge / session: created
    gross: int  # what was billed: invoice total, or the charge's captured amount
    paid: int  # what was actually collected
    refunded: int = 0
    disputed: bool = False  # a charge behind it is disputed (FirstPromoter reverses it as a refund)
    livemode: bool = False
    invoice: StripeInvoice | None = None
    charge: StripeCharge | None = None
    session: StripeCheckoutSession | None = None  # the Checkout Session it came through, when read
    settlement: Settlement | None = None  # what the account received (the charge's balance transaction)
    settlement_unread: str | None = None
    linked: tuple[str, ...] = field(default=())  # charge / PaymentIntent ids behind an invoice

    @property
    def guest(self) -> bool:
        return self.customer is None

    @property
    def net(self) -> int:
        return self.paid - self.refunded

    @property
    def ids(self) -> set[str]:
        """Every Stripe id FirstPromoter may file this sale under (commission event_id)."""
        out = {self.id, *self.linked}
        if self.charge is not None:
            out.add(self.charge.id)
            if self.charge.payment_intent:
                out.add(self.charge.payment_intent)
        if self.session is not None:
            out.update(x for x in (self.session.payment_intent, self.session.invoice) if x)
        return out

    @property
    def label(self) -> str:
        kind = {"invoice": "invoice", "charge": "charge", "checkout": "guest Checkout payment"}[self.kind]
        if self.kind == "charge" and self.guest:
            kind = "guest charge"
        return f"{kind} {self.id}"

    @property
    def opening(self) -> str:
        """The label at the start of a sentence."""
        return self.label[0].upper() + self.label[1:]


def trialing_subscriptions(facts: Facts) -> set[str]:
    return {s.id for s in ok_items(facts.stripe.subscriptions) if s.status == "trialing"}


def is_trial_invoice(inv: StripeInvoice, trialing: AbstractSet[str] = frozenset()) -> bool:
    """A $0 invoice from starting a subscription (a trial): nothing was bought yet."""
    if inv.subtotal != 0 or inv.total != 0:
        return False
    return inv.billing_reason == "subscription_create" or (inv.subscription_id or "") in trialing


def _captured(ch: StripeCharge) -> bool:
    """Money was taken: succeeded, captured, a captured amount (states.py: charge status / captured)."""
    counts = states.judge("charge", "status", ch.status, "payment.exists").effect is states.Effect.COUNTS
    return counts and ch.captured is not False and bool(ch.amount_captured)


def invoice_counts(inv: StripeInvoice) -> bool:
    """The invoice's status is one FirstPromoter credits (paid); states.py says which."""
    return states.judge("invoice", "status", inv.status, "payment.exists").effect is states.Effect.COUNTS


def session_paid(s: StripeCheckoutSession) -> bool:
    """A completed, paid Checkout Session (status and payment_status both count, in states.py)."""
    done = states.judge("checkout_session", "status", s.status, "payment.exists").effect is states.Effect.COUNTS
    paid = states.judge("checkout_session", "payment_status", s.payment_status, "payment.exists")
    return done and paid.effect is states.Effect.COUNTS and s.mode != "setup"


def payments(facts: Facts) -> list[Payment]:
    """Every payment of the person, oldest first: paid invoices (not $0 trial invoices), succeeded
    one-time charges, and guest Checkout payments.  Derived once per snapshot, linear in what was read."""
    return derived(facts, "payments", lambda: _payments(facts))


def _payments(facts: Facts) -> list[Payment]:
    invoices = ok_items(facts.stripe.invoices)
    charges = ok_items(facts.stripe.charges) + ok_items(facts.stripe.guest_charges)
    sessions = ok_items(facts.stripe.checkout_sessions)
    trialing = trialing_subscriptions(facts)
    by_invoice: set[str] = set()
    for inv in invoices:
        by_invoice.update(inv.charge_ids)
        by_invoice.update(inv.payment_intent_ids)
        by_invoice.add(inv.id)  # older API versions name the invoice on the charge instead
    # charges and sessions by every id an invoice or a charge may name them by
    charges_by: dict[str, list[StripeCharge]] = {}
    for c in charges:
        for key in {c.id, c.payment_intent, c.invoice} - {None}:
            charges_by.setdefault(key, []).append(c)  # type: ignore[arg-type]
    sessions_by: dict[str, StripeCheckoutSession] = {}
    for cs in sessions:
        for key in (cs.invoice, cs.payment_intent):
            if key:
                sessions_by.setdefault(key, cs)

    def session_for(*ids: str | None) -> StripeCheckoutSession | None:
        return next((sessions_by[i] for i in ids if i and i in sessions_by), None)

    out: list[Payment] = []
    for inv in invoices:
        if not invoice_counts(inv) or is_trial_invoice(inv, trialing):
            continue
        linked = (*inv.charge_ids, *inv.payment_intent_ids)
        paying = list({id(c): c for key in (inv.id, *linked) for c in charges_by.get(key, ())}.values())
        settled = next((c for c in paying if c.settlement is not None or c.settlement_unread), None)
        out.append(
            Payment(
                kind="invoice", id=inv.id, customer=inv.customer or None, currency=inv.currency,
                when=inv.paid_at or inv.created, gross=inv.total, paid=inv.paid_through_stripe,
                refunded=sum(c.amount_refunded for c in paying), disputed=any(c.disputed for c in paying),
                livemode=inv.livemode, invoice=inv,
                session=session_for(inv.id, *inv.payment_intent_ids),
                settlement=settled.settlement if settled else None,
                settlement_unread=settled.settlement_unread if settled else None,
                linked=tuple(linked),
            )
        )
    seen_charges: set[str] = set()
    for ch in charges:
        if ch.id in seen_charges or by_invoice & {ch.id, ch.payment_intent, ch.invoice}:
            continue  # it paid an invoice, which is the payment we judge
        seen_charges.add(ch.id)
        if not _captured(ch):
            continue  # failed, pending, or authorised but not captured: no money was taken yet
        out.append(
            Payment(
                kind="charge", id=ch.id, customer=ch.customer, currency=ch.currency, when=ch.created,
                gross=ch.amount_captured, paid=ch.amount_captured, refunded=ch.amount_refunded,
                disputed=ch.disputed, livemode=ch.livemode, charge=ch, session=session_for(ch.payment_intent),
                settlement=ch.settlement, settlement_unread=ch.settlement_unread,
            )
        )
    # a paid guest session whose charge was not read is still a payment (amount from the session)
    covered = {p.session.id for p in out if p.session is not None}
    for s in sessions:
        if s.guest and session_paid(s) and s.id not in covered and s.amount_total:
            out.append(
                Payment(
                    kind="checkout", id=s.id, customer=None, currency=s.currency or "usd", when=s.created,
                    gross=s.amount_total, paid=s.amount_total, livemode=s.livemode, session=s,
                    settlement_unread="the payment's charge was not read",
                )
            )
    return sorted(out, key=lambda p: p.when)


def other_mode_payments(facts: Facts) -> list[str]:
    """Payments of the person in the other mode ("in_… $29.00 on …"), when that mode was read."""
    out = []
    for inv in ok_items(facts.stripe.other_mode_invoices):
        if invoice_counts(inv) and inv.amount_paid > 0:
            out.append(f"invoice {inv.id} {money.fmt(inv.amount_paid, inv.currency)} on {fmt_time(inv.paid_at or inv.created)}")
    invoiced = {x for inv in ok_items(facts.stripe.other_mode_invoices) for x in (*inv.charge_ids, *inv.payment_intent_ids)}
    for ch in ok_items(facts.stripe.other_mode_charges):
        if _captured(ch) and not invoiced & {ch.id, ch.payment_intent} and not ch.invoice:
            out.append(f"charge {ch.id} {money.fmt(ch.amount_captured, ch.currency)} on {fmt_time(ch.created)}")
    return out


def guest_payments(facts: Facts) -> list[Payment]:
    return [p for p in payments(facts) if p.guest]


def old_enough(facts: Facts, p: Payment) -> bool:
    return facts.now - p.when >= TRACKING_DELAY


# ---------------------------------------------------------------- the timeline


def predates_referral(p: Payment, ref: Referral | None) -> bool:
    """FirstPromoter credits payments made after the referral was tracked; one before it is history
    that only "Import Stripe Events" brings in."""
    return ref is not None and ref.created_at is not None and p.when < ref.created_at


# ---------------------------------------------------------------- commissions


@dataclass(frozen=True)
class CommissionMatch:
    commission: Commission
    how: str  # in words: "event_id in_…" or "the referral's commission of … created 3 h later"


def _ref_commissions(facts: Facts, ref: Referral | None) -> list[Commission]:
    """Commissions filed under this referral (by id, else by its email)."""
    out = []
    for c in ok_items(facts.fp.commissions):
        if ref is not None and c.referral_id is not None:
            if c.referral_id == ref.id:
                out.append(c)
        elif ref is not None and ref.email and c.referral_email and c.referral_email.casefold() == ref.email.casefold():
            out.append(c)
    return out


def match_commissions(facts: Facts) -> dict[str, CommissionMatch]:
    """payment id -> the commission FirstPromoter recorded for it.

    First by every Stripe id the payment has (invoice, charge, PaymentIntent) against the commission's
    event_id; then, for payments still unmatched, the referral's sale commissions with no matching
    event id, created within a few days after the payment for the same sale amount, the closest first.
    Derived once per snapshot."""
    return derived(facts, "matches", lambda: _match_commissions(facts))


def _match_commissions(facts: Facts) -> dict[str, CommissionMatch]:
    paid = payments(facts)
    commissions = ok_items(facts.fp.commissions)
    by_event: dict[str, list[Commission]] = {}
    position = {id(c): n for n, c in enumerate(commissions)}
    for c in commissions:
        if c.event_id:
            by_event.setdefault(c.event_id, []).append(c)
    out: dict[str, CommissionMatch] = {}
    used: set[int] = set()
    for p in paid:
        # the commissions in FirstPromoter's order among those naming any of this payment's ids
        named = sorted({c.id: c for i in p.ids for c in by_event.get(i, ())}.values(), key=lambda c: position[id(c)])
        c = next((c for c in named if c.id not in used), None)
        if c is not None:
            out[p.id] = CommissionMatch(c, f"its event_id {c.event_id} is this {p.kind}'s")
            used.add(c.id)
    all_ids = set().union(*(p.ids for p in paid)) if paid else set()
    spare = [
        c for c in _ref_commissions(facts, found_referral(facts))
        if c.id not in used and c.created_at is not None and not (c.event_id and c.event_id in all_ids)
        and c.commission_type != "custom"  # a custom commission is tied to no sale (states.py)
    ]
    for p in reversed(paid):  # the latest payments first: they are what support asks about
        if p.id in out or not spare:
            continue
        near = [
            c for c in spare
            if c.id not in used
            and timedelta(0) <= c.created_at - p.when <= COMMISSION_WINDOW  # type: ignore[operator]
            and (c.sale_amount is None or c.sale_amount in (p.gross, p.paid))
        ]
        if near:
            c = min(near, key=lambda c: c.created_at - p.when)  # type: ignore[operator]
            gap = fmt_age(c.created_at - p.when).removesuffix(" ago")  # type: ignore[operator]
            out[p.id] = CommissionMatch(
                c, f"no event id matched; the referral's commission created {gap} after the payment, same sale amount"
            )
            used.add(c.id)
    return out


def describe_commission(c: Commission, *, event: bool = True) -> str:
    if c.amount is None:
        amount = "amount unknown"
    elif c.unit in (None, "cash"):
        amount = f"{c.amount / 100:,.2f} cash"  # FirstPromoter keeps cash amounts in cents
    else:
        amount = f"{c.amount} {c.unit}"
    text = f"#{c.id} ({c.status or 'unknown status'}, {amount})"
    return f"{text} for {c.event_id or 'no event id'}" if event else text


# ---------------------------------------------------------------- what the payments carried


@dataclass(frozen=True)
class Signal:
    """Something on a payment that FirstPromoter's Stripe integration tracks a referral by."""

    kind: Literal["coupon", "promotion_code", "fp_tid", "client_reference_id"]
    value: str
    where: str  # "invoice in_…", "Checkout Session cs_…", "customer cus_…"
    campaigns: tuple[PromoterCampaign, ...] = ()  # promoter campaigns whose tracking coupon equals value


def campaigns_with_coupon(facts: Facts, value: str) -> tuple[PromoterCampaign, ...]:
    return tuple(coupon_owners(facts, [value]))  # the index's coupon lookup (checks/campaigns.py)


def signals(facts: Facts) -> list[Signal]:
    """Coupons and promotion codes on the person's payments (with the promoter campaigns whose
    tracking coupon they equal), fp_tid in Checkout Session or customer metadata, and
    client_reference_id on Checkout Sessions (Payment Links, pricing tables)."""
    out: list[Signal] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: Literal["coupon", "promotion_code", "fp_tid", "client_reference_id"], value: str | None, where: str) -> None:
        if not value or (kind, value) in seen:
            return
        seen.add((kind, value))
        owners = campaigns_with_coupon(facts, value) if kind in ("coupon", "promotion_code") else ()
        out.append(Signal(kind, value, where, owners))

    invoices = ok_items(facts.stripe.invoices)
    for inv in sorted(invoices, key=lambda i: i.created, reverse=True):
        for d in inv.discounts:
            if d.coupon is not None:
                add("coupon", d.coupon.id, f"invoice {inv.id}")
            if d.promotion_code is not None:
                add("promotion_code", d.promotion_code.code, f"invoice {inv.id}")
    for s in ok_items(facts.stripe.checkout_sessions):
        add("fp_tid", s.fp_tid, f"Checkout Session {s.id}")
        # FirstPromoter's script puts the tid in client_reference_id only on Payment Links (pricing tables
        # name no table on the session); elsewhere it is the shop's own reference, never a tid
        if s.payment_link:
            add("client_reference_id", s.client_reference_id, f"Checkout Session {s.id}")
    for c in customers(facts):
        add("fp_tid", c.fp_tid, f"customer {c.id}")
    return out
