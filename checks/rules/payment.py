"""Guide step "Payment Verification": a real payment happened, above $0.50, long enough ago.

FirstPromoter converts a lead on `invoice.payment_succeeded` / `charge.succeeded`, but ignores
invoices with `amount_paid` 0 and charges of 0: so a trial's $0 invoice, a 100%-coupon invoice,
an empty invoice and an invoice below Stripe's minimum charge (marked paid, nothing charged)
never convert.  It needs about 2 minutes after the sale.

The helpers here (what counts as a payment, how an amount is judged) are shared with the coupon
and commission rules.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from checks import money
from checks.facts import Facts, Fetch, StripeCharge, StripeCoupon, StripeDiscount, StripeInvoice
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status
from checks.registry import rule

T = TypeVar("T")

TRACKING_DELAY = timedelta(minutes=2)  # "in about 2 minutes after the sale"
NEEDS = ("stripe.customers", "stripe.invoices", "stripe.charges")


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


def ceil_minute(t: datetime) -> datetime:
    """Round up to the next whole minute, so "run again at HH:MM" is never a little too early."""
    base = t.replace(second=0, microsecond=0)
    return base if base == t else base + timedelta(minutes=1)


# ---------------------------------------------------------------- what counts as a payment


@dataclass(frozen=True)
class Payment:
    """A paid invoice or a succeeded one-time charge (not one that paid an invoice)."""

    kind: Literal["invoice", "charge"]
    id: str
    customer: str | None
    currency: str
    when: datetime  # invoice: status_transitions.paid_at (else created); charge: created
    gross: int  # what was billed: invoice total, or the charge's captured amount
    paid: int  # what was actually collected
    refunded: int = 0
    livemode: bool = False
    invoice: StripeInvoice | None = None
    charge: StripeCharge | None = None
    linked: tuple[str, ...] = field(default=())  # charge / PaymentIntent ids behind an invoice

    @property
    def net(self) -> int:
        return self.paid - self.refunded

    @property
    def ids(self) -> set[str]:
        """Every Stripe id FirstPromoter may file this sale under (commission event_id)."""
        out = {self.id, *self.linked}
        if self.charge is not None and self.charge.payment_intent:
            out.add(self.charge.payment_intent)
        return out

    @property
    def label(self) -> str:
        return f"{self.kind} {self.id}"

    @property
    def opening(self) -> str:
        """The label at the start of a sentence."""
        return f"{self.kind.capitalize()} {self.id}"


def _ok(fetched: Fetch[tuple[T, ...]]) -> tuple[T, ...]:
    """A list fact's items, or none when it was not read (the rule's `needs` handle errors)."""
    return tuple(fetched.value or ()) if fetched.ok else ()


def trialing_subscriptions(facts: Facts) -> set[str]:
    return {s.id for s in _ok(facts.stripe.subscriptions) if s.status == "trialing"}


def is_trial_invoice(inv: StripeInvoice, trialing: AbstractSet[str] = frozenset()) -> bool:
    """A $0 invoice from starting a subscription (a trial): nothing was bought yet."""
    if inv.subtotal != 0 or inv.total != 0:
        return False
    return inv.billing_reason == "subscription_create" or (inv.subscription_id or "") in trialing


def payments(facts: Facts) -> list[Payment]:
    """Paid invoices (but not $0 trial invoices) and succeeded one-time charges, oldest first."""
    invoices = _ok(facts.stripe.invoices)
    charges = _ok(facts.stripe.charges)
    trialing = trialing_subscriptions(facts)
    by_invoice: set[str] = set()
    for inv in invoices:
        by_invoice.update(inv.charge_ids)
        by_invoice.update(inv.payment_intent_ids)
    out: list[Payment] = []
    for inv in invoices:
        if inv.status != "paid" or is_trial_invoice(inv, trialing):
            continue
        linked = set(inv.charge_ids) | set(inv.payment_intent_ids)
        refunded = sum(
            c.amount_refunded for c in charges if c.id in linked or (c.payment_intent or "") in linked
        )
        out.append(
            Payment(
                kind="invoice", id=inv.id, customer=inv.customer, currency=inv.currency,
                when=inv.paid_at or inv.created, gross=inv.total, paid=inv.amount_paid, refunded=refunded,
                livemode=inv.livemode, invoice=inv, linked=tuple(inv.charge_ids) + tuple(inv.payment_intent_ids),
            )
        )
    for ch in charges:
        if ch.status != "succeeded":
            continue
        if ch.id in by_invoice or (ch.payment_intent or "") in by_invoice:
            continue  # it paid an invoice, which is the payment we judge
        if not ch.amount_captured:
            continue  # authorised but not captured: no money was taken yet
        captured = ch.amount_captured
        out.append(
            Payment(
                kind="charge", id=ch.id, customer=ch.customer, currency=ch.currency, when=ch.created,
                gross=captured, paid=captured, refunded=ch.amount_refunded, livemode=ch.livemode, charge=ch,
            )
        )
    return sorted(out, key=lambda p: p.when)


def _count(n: int, noun: str) -> str:
    return f"{n or 'no'} {noun}{'' if n == 1 else 's'}"


def payment_url(dash: Dashboard, p: Payment) -> str:
    if p.kind == "invoice":
        return dash.invoice(p.id, live=p.livemode)
    return dash.payment(p.id, live=p.livemode)


# ---------------------------------------------------------------- judging an amount


def describe_coupon(c: StripeCoupon) -> str:
    """'coupon FREE100 ("Free forever", 100% off)'."""
    off = ""
    if c.percent_off is not None:
        off = f"{c.percent_off:g}% off"
    elif c.amount_off is not None:
        off = f"{money.fmt(c.amount_off, c.currency or '')} off"
    details = ", ".join(x for x in (f'"{c.name}"' if c.name else "", off) if x)
    return f"coupon {c.id}" + (f" ({details})" if details else "")


def describe_discount(d: StripeDiscount) -> str:
    """'coupon FREE100 ("Free forever", 100% off) via promotion code FREEMONTH (promo_…)'."""
    text = describe_coupon(d.coupon) if d.coupon is not None else f"discount {d.id}"
    if d.promotion_code is not None:
        text += f" via promotion code {d.promotion_code.code} ({d.promotion_code.id})"
    return text


def discount_evidence(dash: Dashboard, inv: StripeInvoice) -> list[Evidence]:
    ev: list[Evidence] = []
    for d in inv.discounts:
        if d.coupon is not None:
            ev.append(Evidence(label="Coupon", value=describe_coupon(d.coupon), url=dash.coupon(d.coupon.id, live=inv.livemode)))
        if d.promotion_code is not None:
            ev.append(
                Evidence(
                    label="Promotion code",
                    value=f"{d.promotion_code.code} ({d.promotion_code.id})",
                    url=dash.promotion_code(d.promotion_code.id, live=inv.livemode),
                )
            )
    return ev


@dataclass(frozen=True)
class AmountVerdict:
    status: Status
    summary: str
    remediation: str | None = None
    evidence: tuple[Evidence, ...] = ()


_NO_FIX_ZERO = (
    "Nothing to fix in the integration: FirstPromoter only tracks money actually paid. The lead converts "
    "on the first payment above the minimum. To reward the promoter for this sale anyway, add a "
    "commission by hand in FirstPromoter."
)


def _threshold(currency: str) -> tuple[int | None, str]:
    """The minimum we compare with, and how we describe it."""
    cur = currency.lower()
    if cur == "usd":
        return money.FP_MINIMUM_USD, f"FirstPromoter's {money.fmt(money.FP_MINIMUM_USD, 'usd')} minimum"
    known = money.minimum_charge(cur)
    if known is None:
        return None, "FirstPromoter's $0.50 minimum"
    return known, (
        f"Stripe's minimum charge for {cur.upper()} ({money.fmt(known, cur)}; FirstPromoter states its "
        "minimum as $0.50)"
    )


def judge_amount(p: Payment, dash: Dashboard) -> AmountVerdict:
    cur = p.currency
    when = f"on {fmt_time(p.when)}"
    if p.invoice is not None:
        inv = p.invoice
        ev = tuple(discount_evidence(dash, inv))
        if inv.total == 0 and inv.subtotal > 0:
            what = "; ".join(describe_discount(d) for d in inv.discounts) or (
                f"a discount or credit of {money.fmt(inv.total_discount_amount or inv.subtotal, cur)}"
            )
            return AmountVerdict(
                Status.FAIL,
                f"Invoice {inv.id} was paid at {money.fmt(0, cur)} {when}: {what} took the whole "
                f"{money.fmt(inv.subtotal, cur)}. FirstPromoter ignores $0 payments (100% coupons do not track).",
                _NO_FIX_ZERO,
                ev,
            )
        if inv.total == 0:
            return AmountVerdict(
                Status.FAIL,
                f"Invoice {inv.id} is empty ({money.fmt(0, cur)}, nothing billed) {when}: empty invoices do not track.",
                _NO_FIX_ZERO,
                ev,
            )
        if inv.amount_paid == 0:
            minimum = money.minimum_charge(cur)
            if minimum is not None and inv.total < minimum:
                why = (
                    f"it is below Stripe's minimum charge ({money.fmt(minimum, cur)}), so Stripe marked it paid "
                    "without charging (the amount goes to the customer's balance)"
                )
            elif inv.amount_due == 0:
                why = "the customer's credit balance covered it, so nothing was charged"
            else:
                why = "Stripe marked it paid without charging anything (outside Stripe or from the balance)"
            return AmountVerdict(
                Status.FAIL,
                f"Invoice {inv.id} for {money.fmt(inv.total, cur)} was paid {when} with {money.fmt(0, cur)} "
                f"collected: {why}. FirstPromoter skips invoices with amount_paid 0.",
                _NO_FIX_ZERO,
                ev,
            )
    cap = f"{p.opening} paid {money.fmt(p.paid, cur)} {when}"
    if p.paid == 0:
        return AmountVerdict(
            Status.FAIL,
            f"{p.opening} collected {money.fmt(0, cur)} {when}: FirstPromoter ignores $0 payments.",
            _NO_FIX_ZERO,
        )
    minimum, against = _threshold(cur)
    if minimum is None:
        return AmountVerdict(
            Status.WARN,
            f"{cap}, in {cur.upper()}: fpcheck cannot compare that with {against} (no exchange rate, and "
            f"Stripe's minimum charge for {cur.upper()} is not known to fpcheck).",
            "Convert the amount to USD yourself: FirstPromoter tracks payments above $0.50.",
        )
    if p.paid < minimum:
        return AmountVerdict(
            Status.FAIL, f"{cap}: below {against}, so FirstPromoter does not track it.", _NO_FIX_ZERO
        )
    if p.paid == minimum:
        return AmountVerdict(
            Status.WARN,
            f"{cap}: exactly {against}; FirstPromoter asks for more than that, so it may not track it.",
            "Nothing to fix in the integration; a payment above the minimum will convert the lead.",
        )
    if p.refunded and p.net <= minimum:
        return AmountVerdict(
            Status.WARN,
            f"{cap}, but {money.fmt(p.refunded, cur)} was refunded: FirstPromoter records the refund as a "
            "negative commission, so the promoter nets nothing for it.",
            "Nothing to fix: refunds reverse commissions by design.",
        )
    refund_note = f" ({money.fmt(p.refunded, cur)} refunded since, net {money.fmt(p.net, cur)})" if p.refunded else ""
    return AmountVerdict(Status.PASS, f"{cap}{refund_note}: above {against}.")


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def judged(facts: Facts) -> tuple[Payment, AmountVerdict, list[Payment]] | None:
    """The payment that decides: the latest one that counts (pass), else the latest that might
    (warn), else the latest one at all (fail).  None when there is no payment."""
    found = payments(facts)
    if not found:
        return None
    dash = Dashboard.of(facts)
    verdicts = [(p, judge_amount(p, dash)) for p in found]
    best = min(verdicts, key=lambda pv: (_RANK[pv[1].status], -pv[0].when.timestamp()))
    return best[0], best[1], found


def counting_payments(facts: Facts) -> list[Payment]:
    """Payments FirstPromoter should turn into a sale (amount verdict pass or warn)."""
    dash = Dashboard.of(facts)
    return [p for p in payments(facts) if judge_amount(p, dash).status is not Status.FAIL]


def _no_customer(facts: Facts) -> Outcome | None:
    """Skip when there is no Stripe customer (or money facts were not read)."""
    customers = facts.stripe.customers
    if not customers.value:
        reason = customers.skipped or "no Stripe customer carries the email or id"
        return Outcome(status=Status.SKIP, summary=f"No Stripe customer to look for payments on ({reason}; see lead.email).")
    for name in ("invoices", "charges"):
        fetched = facts.fetch(f"stripe.{name}")
        if fetched.skipped:
            return Outcome(status=Status.SKIP, summary=f"Stripe {name} were not read: {fetched.skipped}.")
    return None


# ---------------------------------------------------------------- payment.exists


def _not_paid_story(facts: Facts, dash: Dashboard) -> tuple[list[str], list[Evidence], list[str]]:
    """What there is instead of a payment: phrases, evidence, and advice."""
    phrases: list[str] = []
    ev: list[Evidence] = []
    advice: list[str] = []
    trialing = trialing_subscriptions(facts)
    for inv in sorted(_ok(facts.stripe.invoices), key=lambda i: i.created):
        url = dash.invoice(inv.id, live=inv.livemode)
        amount = money.fmt(inv.amount_due, inv.currency)
        if inv.status == "open":
            phrases.append(f"open invoice {inv.id} for {amount} due")
            advice.append(f"Invoice {inv.id} is still open: the lead converts once it is paid.")
        elif inv.status == "draft":
            phrases.append(f"draft invoice {inv.id} for {amount} (not finalized)")
            advice.append(f"Invoice {inv.id} is a draft: it has not even been sent; it converts once finalized and paid.")
        elif inv.status == "paid" and is_trial_invoice(inv, trialing):
            phrases.append(f"{money.fmt(0, inv.currency)} trial invoice {inv.id}")
        elif inv.status in ("void", "uncollectible"):
            phrases.append(f"{inv.status} invoice {inv.id} for {money.fmt(inv.total, inv.currency)}")
        else:
            phrases.append(f"{inv.status} invoice {inv.id}")
        ev.append(Evidence(label=f"Invoice ({inv.status})", value=f"{inv.id} {money.fmt(inv.total, inv.currency)}", url=url))
    for sub in sorted(_ok(facts.stripe.subscriptions), key=lambda s: s.created):
        url = dash.subscription(sub.id, live=sub.livemode)
        if sub.status == "trialing":
            until = f" until {sub.trial_end.strftime('%Y-%m-%d')}" if sub.trial_end else ""
            phrases.append(f"subscription {sub.id} trialing{until}")
            advice.append(
                f"The subscription is in its trial{until}: the lead converts on the first paid invoice after it; "
                "nothing to fix now."
            )
        else:
            phrases.append(f"subscription {sub.id} {sub.status}")
        ev.append(Evidence(label=f"Subscription ({sub.status})", value=sub.id, url=url))
    for ch in sorted(_ok(facts.stripe.charges), key=lambda c: c.created):
        state = "uncaptured" if ch.status == "succeeded" and not ch.amount_captured else ch.status
        if state == "succeeded":
            continue
        phrases.append(f"{state} charge {ch.id} for {money.fmt(ch.amount, ch.currency)}")
        ev.append(Evidence(label=f"Charge ({state})", value=ch.id, url=dash.payment(ch.id, live=ch.livemode)))
        if state == "uncaptured":
            advice.append(f"Charge {ch.id} was authorised but not captured: capture it in Stripe to take the money.")
        elif ch.status == "failed":
            advice.append(f"Charge {ch.id} failed: the customer has to pay again.")
        elif ch.status == "pending":
            advice.append(f"Charge {ch.id} is still pending (e.g. a bank debit): wait until it succeeds.")
    return phrases, ev, advice


@rule("payment.exists", title="A real payment", order=60, needs=NEEDS)
def check_exists(facts: Facts) -> Outcome:
    skip = _no_customer(facts)
    if skip:
        return skip
    dash = Dashboard.of(facts)
    found = payments(facts)
    customers = ", ".join(c.id for c in facts.stripe.customers.value or ())
    if found:
        # name the latest payment that collected money (a $0 one only when there is nothing else)
        latest = next((p for p in reversed(found) if p.paid > 0), found[-1])
        amount = money.fmt(latest.paid, latest.currency)
        zero = ", collecting nothing (see payment.amount)" if latest.paid == 0 else ""
        n_inv = sum(1 for p in found if p.kind == "invoice")
        counts = f"{_count(n_inv, 'paid invoice')} and {_count(len(found) - n_inv, 'one-time charge')} for {customers}"
        return Outcome(
            status=Status.PASS,
            summary=f"A payment happened: {latest.label} paid {amount} on {fmt_time(latest.when)}{zero}; {counts}.",
            evidence=tuple(
                Evidence(label=f"Paid {p.kind}", value=f"{p.id} {money.fmt(p.paid, p.currency)} on {fmt_time(p.when)}", url=payment_url(dash, p))
                for p in reversed(found[-5:])
            ),
        )
    phrases, ev, advice = _not_paid_story(facts, dash)
    found_text = "; ".join(phrases) if phrases else "no invoices, charges or subscriptions at all"
    if not advice:
        advice.append(
            "Check that the person actually paid, and as which Stripe customer (they may have paid under "
            "another email: see lead.email). Draft, open and upcoming invoices do not count."
        )
    return Outcome(
        status=Status.FAIL,
        summary=f"No real payment yet for {customers}: {found_text}.",
        evidence=tuple(ev),
        remediation=" ".join(dict.fromkeys(advice)),
    )


# ---------------------------------------------------------------- payment.amount


@rule("payment.amount", title="Amount paid (over $0.50)", order=70, needs=NEEDS)
def check_amount(facts: Facts) -> Outcome:
    skip = _no_customer(facts)
    if skip:
        return skip
    picked = judged(facts)
    if picked is None:
        return Outcome(status=Status.SKIP, summary="No payment to judge the amount of (see payment.exists).")
    p, verdict, found = picked
    dash = Dashboard.of(facts)
    more = f" ({len(found)} payments in all)" if len(found) > 1 else ""
    evidence = (Evidence(label=f"Judged {p.kind}", value=f"{p.id} {money.fmt(p.gross, p.currency)} billed, {money.fmt(p.paid, p.currency)} collected", url=payment_url(dash, p)),)
    if p.refunded:
        evidence += (Evidence(label="Refunded", value=money.fmt(p.refunded, p.currency)),)
    return Outcome(
        status=verdict.status,
        summary=verdict.summary + (more if verdict.status is Status.PASS else ""),
        evidence=evidence + verdict.evidence,
        remediation=verdict.remediation if verdict.status in (Status.FAIL, Status.WARN) else None,
    )


# ---------------------------------------------------------------- payment.timing


@rule("payment.timing", title="Time since payment (~2 min)", order=80, needs=NEEDS)
def check_timing(facts: Facts) -> Outcome:
    skip = _no_customer(facts)
    if skip:
        return skip
    picked = judged(facts)
    if picked is None:
        return Outcome(status=Status.SKIP, summary="No payment yet, so nothing to time (see payment.exists).")
    p, verdict, _ = picked
    if verdict.status is Status.FAIL:
        return Outcome(
            status=Status.SKIP,
            summary="No payment FirstPromoter would count, so nothing to time (see payment.amount).",
        )
    dash = Dashboard.of(facts)
    age = facts.now - p.when
    evidence = (
        Evidence(label=f"Paid {p.kind}", value=f"{p.id} at {fmt_time(p.when)}", url=payment_url(dash, p)),
        Evidence(label="Checked at", value=fmt_time(facts.now)),
    )
    if age < TRACKING_DELAY:
        again = ceil_minute(p.when + TRACKING_DELAY)
        return Outcome(
            status=Status.WARN,
            summary=(
                f"Too early: {p.label} was paid {fmt_age(age)} ({p.when.strftime('%H:%M:%S')} UTC); FirstPromoter "
                f"needs about {math.ceil(TRACKING_DELAY.total_seconds() / 60)} minutes. Run again at "
                f"{again.strftime('%H:%M')} UTC."
            ),
            evidence=evidence,
            remediation=f"Wait, then run fpcheck again at {again.strftime('%H:%M')} UTC or later.",
        )
    return Outcome(
        status=Status.PASS,
        summary=(
            f"{p.opening} was paid on {fmt_time(p.when)}, {fmt_age(age)}: more than the ~2 minutes "
            "FirstPromoter needs."
        ),
        evidence=evidence,
    )
