"""Judging a payment's amount against FirstPromoter's $0.50 rule.

FirstPromoter ignores $0 payments (100% coupons, empty invoices, invoices Stripe marked paid without
charging) and, per its guide, needs more than $0.50.  Its articles disagree on exactly $0.50 ("greater
than $0.5" in one, "$0.5 or above" in another), so exactly $0.50 is a warning, never a pass or a
fail.  A payment in another currency is compared in dollars through what Stripe settled for it (the
charge's balance transaction, when the key can read it and the account settles in USD); when no
dollar amount is known, fpcheck says it cannot compare rather than pass it.
"""

from __future__ import annotations

from checks import money, states
from checks.facts import Facts, StripeCoupon, StripeDiscount, StripeInvoice
from checks.links import Dashboard
from checks.memo import derived
from checks.model import Evidence, Outcome, Status
from checks.trail import Payment, fmt_time, payments


def payment_url(dash: Dashboard, p: Payment) -> str | None:
    if p.kind == "invoice":
        return dash.invoice(p.id, live=p.livemode)
    if p.kind == "charge":
        return dash.payment(p.id, live=p.livemode)
    pi = p.session.payment_intent if p.session else None
    return dash.payment(pi, live=p.livemode) if pi else None


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


def _said(status: Status, summary: str, remediation: str | None = None, evidence: tuple[Evidence, ...] = ()) -> Outcome:
    """An amount judged: what payment.amount reports (and fp.commission cites) for one payment."""
    return Outcome(status=status, summary=summary, remediation=remediation, evidence=evidence)


NO_FIX_ZERO = (
    "Nothing to fix in the integration: FirstPromoter only tracks money actually paid. The lead converts "
    "on the first payment above the minimum. To reward the promoter for this sale anyway, add a "
    "commission by hand in FirstPromoter."
)
EXACT_MINIMUM = (
    "FirstPromoter's articles disagree on exactly $0.50 (\"greater than $0.5\" in its troubleshooting guide, "
    "\"$0.5 or above\" elsewhere), so it may or may not track it"
)


def _zero_invoice(inv: StripeInvoice, when: str, ev: tuple[Evidence, ...]) -> Outcome | None:
    cur = inv.currency
    if inv.total == 0 and inv.subtotal > 0:
        what = "; ".join(describe_discount(d) for d in inv.discounts) or (
            f"a discount or credit of {money.fmt(inv.total_discount_amount or inv.subtotal, cur)}"
        )
        return _said(
            Status.FAIL,
            f"Invoice {inv.id} was paid at {money.fmt(0, cur)} {when}: {what} took the whole "
            f"{money.fmt(inv.subtotal, cur)}. FirstPromoter ignores $0 payments (100% coupons do not track).",
            NO_FIX_ZERO, ev,
        )
    if inv.total == 0:
        return _said(
            Status.FAIL,
            f"Invoice {inv.id} is empty ({money.fmt(0, cur)}, nothing billed) {when}: empty invoices do not track.",
            NO_FIX_ZERO, ev,
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
        return _said(
            Status.FAIL,
            f"Invoice {inv.id} for {money.fmt(inv.total, cur)} was paid {when} with {money.fmt(0, cur)} "
            f"collected: {why}. FirstPromoter skips invoices with amount_paid 0.",
            NO_FIX_ZERO, ev,
        )
    return None


def _in_usd(p: Payment) -> tuple[int | None, str]:
    """The payment's amount in US cents, and how we know it ("" for a USD payment)."""
    if p.currency.lower() == "usd":
        return p.paid, ""
    s = p.settlement
    if s is not None and s.currency.lower() == "usd":
        return s.amount, f", settled as {money.fmt(s.amount, 'usd')} (Stripe's balance transaction)"
    return None, ""


def _off_stripe(inv: StripeInvoice, when: str) -> Outcome | None:
    """An invoice marked paid outside Stripe: FirstPromoter gets no Stripe payment for that part."""
    if not inv.off_stripe:
        return None
    if inv.paid_out_of_band:
        row, how = states.judge("invoice", "paid_out_of_band", True, "payment.amount"), "paid_out_of_band"
    elif inv.payment_types and all(t == "payment_record" for t in inv.payment_types):
        row, how = states.judge("invoice_payment", "payment.type", "payment_record", "payment.amount"), "a payment record"
    else:
        row = states.judge("invoice", "amount_paid_off_stripe", "> 0", "payment.amount")
        how = f"amount_paid_off_stripe {money.fmt(inv.amount_paid_off_stripe, inv.currency)}"
    through = inv.paid_through_stripe
    if through > 0:
        return None  # the part Stripe collected is judged as the payment (trail.Payment.paid)
    return _said(
        Status.FAIL,
        f"Invoice {inv.id} for {money.fmt(inv.total, inv.currency)} was marked paid {when}, but {row.says} "
        f"({how}): no money moved through Stripe, so FirstPromoter received no payment to credit.",
        row.fix,
    )


def judge_amount(p: Payment, dash: Dashboard) -> Outcome:
    cur = p.currency
    when = f"on {fmt_time(p.when)}"
    if p.invoice is not None:
        outside = _off_stripe(p.invoice, when)
        if outside is not None:
            return outside
        zero = _zero_invoice(p.invoice, when, tuple(discount_evidence(dash, p.invoice)))
        if zero is not None:
            return zero
    cap = f"{p.opening} paid {money.fmt(p.paid, cur)} {when}"
    if p.paid == 0:
        return _said(
            Status.FAIL, f"{p.opening} collected {money.fmt(0, cur)} {when}: FirstPromoter ignores $0 payments.", NO_FIX_ZERO
        )
    stripe_min = money.minimum_charge(cur)
    if cur.lower() != "usd" and stripe_min is not None and p.paid < stripe_min:
        return _said(
            Status.FAIL,
            f"{cap}: below Stripe's minimum charge for {cur.upper()} ({money.fmt(stripe_min, cur)}), so "
            "FirstPromoter does not track it.",
            NO_FIX_ZERO,
        )
    usd, how = _in_usd(p)
    cap += how
    if usd is None:
        if p.settlement is not None:
            why = (
                f"Stripe settled it as {money.fmt(p.settlement.amount, p.settlement.currency)}, not in US dollars, "
                "and fpcheck has no exchange rate"
            )
        elif p.settlement_unread:
            why = f"its settlement amount could not be read ({p.settlement_unread})"
        else:
            why = "Stripe has not settled it yet (no balance transaction), so there is no dollar amount"
        return _said(
            Status.WARN,
            f"{cap}, in {cur.upper()}: fpcheck cannot compare that with FirstPromoter's $0.50 minimum: {why}.",
            "Convert the amount to USD yourself: FirstPromoter tracks payments above $0.50. With a restricted "
            "key, granting it read access to balance transactions lets fpcheck compare settled amounts.",
        )
    minimum = money.FP_MINIMUM_USD
    if usd < minimum:
        return _said(
            Status.FAIL, f"{cap}: below FirstPromoter's $0.50 minimum, so FirstPromoter does not track it.", NO_FIX_ZERO
        )
    if usd == minimum:
        return _said(
            Status.WARN,
            f"{cap}: exactly $0.50. {EXACT_MINIMUM}.",
            "Nothing to fix in the integration; a payment above $0.50 converts the lead. To reward this sale "
            "anyway, add the commission by hand in FirstPromoter.",
        )
    if p.disputed:
        row = states.judge("charge", "disputed", True, "payment.amount")
        return _said(
            Status.WARN,
            f"{cap}, but it was {row.says}: FirstPromoter records a dispute as a refund, a negative commission, "
            "so the promoter nets nothing for it while the dispute stands.",
            row.fix,
        )
    if p.refunded and p.net * usd <= minimum * p.paid:
        return _said(
            Status.WARN,
            f"{cap}, but {money.fmt(p.refunded, cur)} was refunded: FirstPromoter records the refund as a "
            "negative commission, so the promoter nets nothing for it.",
            "Nothing to fix: refunds reverse commissions by design.",
        )
    refund_note = f" ({money.fmt(p.refunded, cur)} refunded since, net {money.fmt(p.net, cur)})" if p.refunded else ""
    return _said(Status.PASS, f"{cap}{refund_note}: above FirstPromoter's $0.50 minimum.")


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def judged(facts: Facts) -> tuple[Payment, Outcome, list[Payment]] | None:
    return derived(facts, "judged", lambda: _judged(facts))


def _judged(facts: Facts) -> tuple[Payment, Outcome, list[Payment]] | None:
    """The payment that decides: the latest one that counts (pass), else the latest that might
    (warn), else the latest one at all (fail).  None when there is no payment."""
    found = payments(facts)
    if not found:
        return None
    verdicts = _verdicts(facts)
    best = min(verdicts, key=lambda pv: (_RANK[pv[1].status], -pv[0].when.timestamp()))
    return best[0], best[1], found


def counting_payments(facts: Facts) -> list[tuple[Payment, Outcome]]:
    """Payments FirstPromoter should (pass) or may (warn) turn into a sale, oldest first."""
    return derived(facts, "counting", lambda: [(p, v) for p, v in _verdicts(facts) if v.status is not Status.FAIL])


def _verdicts(facts: Facts) -> list[tuple[Payment, Outcome]]:
    """Every payment with its amount judged, once per snapshot."""
    def judge() -> list[tuple[Payment, Outcome]]:
        dash = Dashboard.of(facts)
        return [(p, judge_amount(p, dash)) for p in payments(facts)]

    return derived(facts, "verdicts", judge)
